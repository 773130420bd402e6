-- Chunks first..last of an artifact a handler may read.
SELECT seq, data FROM trellis.read_node_artifact_chunks($1::bigint, $2::bigint, $3::integer, $4, $5::integer, $6::integer)
