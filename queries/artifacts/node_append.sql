-- Append the next chunk of an artifact a handler is storing.
SELECT trellis.append_node_artifact_chunk($1::bigint, $2::integer, $3::bytea)
