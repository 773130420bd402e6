-- Creates the migration runner's own bookkeeping; runs under the migration lock.
CREATE SCHEMA IF NOT EXISTS trellis;

-- One row per applied numbered migration, written in that migration's own transaction.
CREATE TABLE IF NOT EXISTS trellis.schema_migrations (
    version      integer PRIMARY KEY CONSTRAINT schema_migrations_version_positive CHECK (version > 0),
    name         text NOT NULL,
    checksum     text NOT NULL,
    applied_at   timestamptz NOT NULL DEFAULT now(),
    duration_ms  double precision NOT NULL DEFAULT 0,
    applied_by   text NOT NULL DEFAULT current_user
);

-- One row per repeatable definition file under sql/, with the checksum last applied.
CREATE TABLE IF NOT EXISTS trellis.schema_definitions (
    path         text PRIMARY KEY,
    checksum     text NOT NULL,
    applied_at   timestamptz NOT NULL DEFAULT now(),
    duration_ms  double precision NOT NULL DEFAULT 0
);
