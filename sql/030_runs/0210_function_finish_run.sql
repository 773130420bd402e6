-- Ends one run whose nodes are all terminal: finish_runs for one.
CREATE OR REPLACE FUNCTION trellis.finish_run(run uuid) RETURNS void
LANGUAGE sql AS $fn$
    SELECT trellis.finish_runs(ARRAY[run])
$fn$;
