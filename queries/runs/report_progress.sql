SELECT node_run_id, accepted, reason FROM trellis.report_progress($1::bigint, $2::jsonb)
