-- Start an artifact a handler stores for the node run it holds; returns its id.
SELECT trellis.begin_node_artifact($1::bigint, $2::bigint, $3::integer, $4, $5) AS id
