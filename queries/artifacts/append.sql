-- Append the next chunk of an upload.
SELECT trellis.append_artifact_chunk($1::bigint, $2::integer, $3::bytea, $4)
