SELECT node_run_id, run_id, node_key, handler, config, input, attempt, timeout_ms, item_index, waited_ms, resume
FROM trellis.claim_nodes($1::bigint, $2::text[], $3::integer, $4::interval)
