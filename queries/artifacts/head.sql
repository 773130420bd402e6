-- A readable artifact's size, chunk size, media type and name (before streaming it).
SELECT a.sha256, a.size, a.chunk_size, a.media_type, a.name FROM trellis.readable_artifact($1, $2) a
