-- One start_run per row, in the select list (a FROM-clause call that ignores the
-- series would be evaluated once).
SELECT count(*) AS started
FROM (SELECT trellis.start_run($1, jsonb_build_object('i', g), 'admin', '{}'::jsonb) FROM generate_series(1, $2::integer) g) s
