-- The set-based start: one call for every input.
SELECT count(*) AS started
FROM trellis.start_runs($1, ARRAY(SELECT jsonb_build_object('i', g) FROM generate_series(1, $2::integer) g), 'admin')
