-- Why a reported result must be refused, or NULL when it may be applied: the node run
-- must exist, still be running at the attempt the result presents (the fencing token),
-- and be claimed by the reporting scheduler.
-- It takes the node run's four columns, not its row: a row made a value (`SELECT n`, a
-- row passed on) is detoasted whole, and a node's input can be large (out of line), read
-- on every result for nothing (the signature changed once, so the old one is dropped).
DROP FUNCTION IF EXISTS trellis.stale_result_reason(trellis.node_runs, integer, bigint);
CREATE OR REPLACE FUNCTION trellis.stale_result_reason(node_run_id bigint, node_status text, node_attempt integer,
                                                       node_scheduler bigint, attempt integer, scheduler bigint) RETURNS text
-- STABLE like format(), so the planner inlines it into the statement that judges a batch
-- (declared IMMUTABLE, it was called once per result, a SQL function's set-up each time).
LANGUAGE sql STABLE AS $fn$
    SELECT CASE
        WHEN node_run_id IS NULL THEN 'unknown node run'
        WHEN node_status <> 'running' OR node_attempt IS DISTINCT FROM attempt
            THEN format('stale result: attempt %s, but the node run is %s at attempt %s', attempt, node_status, node_attempt)
        WHEN node_scheduler IS DISTINCT FROM scheduler THEN format('claimed by scheduler %s, not %s', node_scheduler, scheduler)
    END
$fn$;
