-- Why a reported result must be refused, or NULL when it may be applied: the node run
-- must exist, still be running at the attempt the result presents (the fencing token),
-- and be claimed by the reporting scheduler.
CREATE OR REPLACE FUNCTION trellis.stale_result_reason(nr trellis.node_runs, attempt integer, scheduler bigint) RETURNS text
-- STABLE like format(), so the planner inlines it into the statement that judges a batch
-- (declared IMMUTABLE, it was called once per result, a SQL function's set-up each time).
LANGUAGE sql STABLE AS $fn$
    SELECT CASE
        WHEN nr.id IS NULL THEN 'unknown node run'
        WHEN nr.status <> 'running' OR nr.attempt IS DISTINCT FROM attempt
            THEN format('stale result: attempt %s, but the node run is %s at attempt %s', attempt, nr.status, nr.attempt)
        WHEN nr.scheduler_id IS DISTINCT FROM scheduler THEN format('claimed by scheduler %s, not %s', nr.scheduler_id, scheduler)
    END
$fn$;
