INSERT INTO trellis.schema_definitions (path, checksum, duration_ms)
VALUES ($1, $2, $3::double precision)
ON CONFLICT (path) DO UPDATE
SET checksum = EXCLUDED.checksum, applied_at = now(), duration_ms = EXCLUDED.duration_ms
