-- The previous signature took no attempts; a heartbeat must present its fencing tokens.
DROP FUNCTION IF EXISTS trellis.heartbeat(bigint, bigint[], interval);

-- A scheduler's heartbeat: marks the instance alive and extends the lease of each listed
-- node run it still holds at the listed attempt (running, claimed by it, same fencing
-- token). Rows come back for every listed id: held = false means the node was
-- reclaimed, re-claimed, finished or cancelled — stop that handler. The lease is 1 second
-- to trellis.max_lease_seconds (default 600).
CREATE OR REPLACE FUNCTION trellis.heartbeat(scheduler bigint, node_run_ids bigint[], attempts integer[],
                                             lease interval DEFAULT '30 seconds')
RETURNS TABLE (node_run_id bigint, held boolean)
LANGUAGE plpgsql
-- One of the functions trellis_scheduler may call (sql/090_grants): runs with the owner's rights.
-- Generic plans, made once per session: with a planner method off, a generic plan carries
-- the method's cost penalty wherever a custom plan can avoid it, so PostgreSQL judged it
-- dearer after the five custom plans and planned afresh on every call (heartbeat 0.84 ms per call, 0.56 with generic plans, pgbench).
SECURITY DEFINER SET search_path = pg_catalog, trellis, pg_temp SET enable_seqscan = off SET jit = off
SET plan_cache_mode = force_generic_plan AS $fn$
BEGIN
    PERFORM trellis.require_scheduler(scheduler);
    PERFORM trellis.check_lease(lease);
    IF cardinality(coalesce(node_run_ids, '{}')) <> cardinality(coalesce(attempts, '{}')) THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('heartbeat lists %s node runs but %s attempts',
            cardinality(coalesce(node_run_ids, '{}')), cardinality(coalesce(attempts, '{}')));
    END IF;
    UPDATE trellis.schedulers SET heartbeat_at = now() WHERE id = scheduler;
    RETURN QUERY
    WITH listed AS (
        SELECT l.id, l.attempt FROM unnest(coalesce(node_run_ids, '{}'), coalesce(attempts, '{}')) AS l(id, attempt)
    ), extended AS (
        UPDATE trellis.node_runs n SET lease_expires_at = now() + lease
        FROM listed l
        WHERE n.id = l.id AND n.attempt = l.attempt AND n.status = 'running' AND n.scheduler_id = scheduler
        RETURNING n.id
    )
    SELECT l.id, EXISTS (SELECT 1 FROM extended e WHERE e.id = l.id) FROM listed l;
END;
$fn$;
