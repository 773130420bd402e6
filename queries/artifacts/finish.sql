-- Finish an upload under its SHA-256 (the same bytes stored once).
SELECT document, created FROM trellis.finish_artifact($1::bigint, $2, $3)
