-- Starts one run per element of a JSON array of inputs ($2), in one call (start_runs).
SELECT run_id, status, created
FROM trellis.start_runs($1, ARRAY(SELECT t.e FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY AS t(e, ord) ORDER BY t.ord), $3, $4::jsonb)
