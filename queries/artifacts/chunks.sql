-- Chunks first..last of a readable artifact.
SELECT seq, data FROM trellis.read_artifact_chunks($1, $2, $3::integer, $4::integer)
