-- The rule for a run input, in one place: a JSON object (SQL NULL counts as {}) within
-- trellis.max_input_bytes. check_run_inputs names the first input that breaks it;
-- start_run tests its one input with it first and skips that search when it holds. A SQL
-- function, inlined into the statements and expressions that call it.
CREATE OR REPLACE FUNCTION trellis.run_input_fits(input jsonb) RETURNS boolean
LANGUAGE sql STABLE AS $fn$
    SELECT input IS NULL OR (jsonb_typeof(input) = 'object' AND pg_column_size(input) <= trellis.setting('max_input_bytes', 5242880))
$fn$;
