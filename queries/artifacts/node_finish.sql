-- Finish an artifact a handler stored, recorded as an output of its run.
SELECT document, created FROM trellis.finish_node_artifact($1::bigint, $2::bigint, $3::integer, $4::bigint, $5)
