SELECT node_run_id, accepted, outcome, reason FROM trellis.fail_nodes($1::bigint, $2::jsonb)
