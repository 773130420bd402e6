SELECT node_run_id, held FROM trellis.heartbeat($1::bigint, $2::bigint[], $3::integer[], $4::interval)
