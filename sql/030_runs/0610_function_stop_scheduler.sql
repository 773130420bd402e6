-- Marks a scheduler stopped (graceful shutdown) and gives back the nodes it still holds:
-- they are ready again at once with their attempt recorded as lost (not counted as a
-- handler failure, so no backoff).
CREATE OR REPLACE FUNCTION trellis.stop_scheduler(scheduler bigint) RETURNS integer
LANGUAGE plpgsql
-- One of the functions trellis_scheduler may call (sql/090_grants): runs with the owner's rights.
SECURITY DEFINER SET search_path = pg_catalog, trellis, pg_temp AS $fn$
DECLARE
    released int;
BEGIN
    PERFORM trellis.require_scheduler(scheduler, allow_stopped => true);
    -- Runs before nodes, the order of every transition.
    PERFORM 1 FROM trellis.workflow_runs r
    WHERE r.id IN (SELECT n.run_id FROM trellis.node_runs n WHERE n.scheduler_id = scheduler AND n.status = 'running')
    ORDER BY r.id FOR NO KEY UPDATE;
    UPDATE trellis.schedulers SET stopped_at = now() WHERE id = scheduler AND stopped_at IS NULL;
    UPDATE trellis.node_attempts a SET outcome = 'lost', finished_at = now(),
        error = '{"code": "scheduler_stopped", "message": "released at graceful shutdown"}'
    FROM trellis.node_runs n
    WHERE n.scheduler_id = scheduler AND n.status = 'running' AND a.node_run_id = n.id AND a.attempt = n.attempt;
    UPDATE trellis.node_runs n
    SET status = trellis.ready_status(n.run_id),
        ready_at = now(), lease_expires_at = NULL, scheduler_id = NULL,
        max_attempts = n.max_attempts + 1  -- a released attempt does not use up the retry budget
    WHERE n.scheduler_id = scheduler AND n.status = 'running';
    GET DIAGNOSTICS released = ROW_COUNT;
    RETURN released;
END;
$fn$;
