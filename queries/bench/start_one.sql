SELECT run_id FROM trellis.start_run($1, $2::jsonb, 'admin', '{}'::jsonb)
