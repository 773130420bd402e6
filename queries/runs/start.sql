SELECT run_id, status, created FROM trellis.start_run($1, $2::jsonb, $3, $4::jsonb)
