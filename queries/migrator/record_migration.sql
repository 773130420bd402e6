INSERT INTO trellis.schema_migrations (version, name, checksum, duration_ms)
VALUES ($1::integer, $2, $3, $4::double precision)
