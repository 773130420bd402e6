-- An artifact a handler may read (its run references it): size, chunk size, media type, name.
SELECT a.sha256, a.size, a.chunk_size, a.media_type, a.name FROM trellis.node_artifact($1::bigint, $2::bigint, $3::integer, $4) a
