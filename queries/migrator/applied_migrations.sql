SELECT version, name, checksum, applied_at, duration_ms
FROM trellis.schema_migrations
ORDER BY version
