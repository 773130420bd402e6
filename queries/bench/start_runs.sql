SELECT count(*) AS started
FROM generate_series(1, $2::integer) g, LATERAL trellis.start_run($1, '{}'::jsonb, 'admin', '{}'::jsonb) r
