-- A table in its own schema for the single-row commit baseline (a real, logged table).
CREATE SCHEMA IF NOT EXISTS trellis_bench;
CREATE TABLE IF NOT EXISTS trellis_bench.commits (id bigint NOT NULL, at timestamptz NOT NULL DEFAULT now());
TRUNCATE trellis_bench.commits;
