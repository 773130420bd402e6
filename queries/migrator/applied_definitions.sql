SELECT path, checksum, applied_at, duration_ms
FROM trellis.schema_definitions
ORDER BY path
