SELECT node_run_id, accepted, reason FROM trellis.complete_nodes($1::bigint, $2::jsonb)
