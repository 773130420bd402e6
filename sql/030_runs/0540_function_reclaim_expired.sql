-- Reclaims running node runs whose lease expired (their scheduler is presumed dead).
-- Worker loss is not the node's failure: the attempt is recorded as lost and the node is
-- ready again at once without spending its retry budget (node.retry_scheduled with
-- "lost_lease": true), up to trellis.max_lost_leases times (default 3) per node run;
-- the next loss fails it with lease_expired, not retryable, and on_error applies.
-- Locks go run → node like every other transition; SKIP LOCKED on both makes it safe
-- for every scheduler to call at once (a run busy elsewhere is reclaimed on a later
-- pass). Returns how many were reclaimed.
CREATE OR REPLACE FUNCTION trellis.reclaim_expired(max_nodes integer DEFAULT 100) RETURNS integer
LANGUAGE plpgsql
-- One of the functions trellis_scheduler may call (sql/090_grants): runs with the owner's rights.
SECURITY DEFINER SET search_path = pg_catalog, trellis, pg_temp AS $fn$
DECLARE
    bound int := trellis.setting('max_lost_leases', 3);
    expired record;
    runs uuid[];
    locked_runs uuid[];
    touched uuid[] := '{}';
    run_id_ uuid;
    reclaimed int := 0;
    failure jsonb;
BEGIN
    SELECT array_agg(DISTINCT c.run_id) INTO runs FROM (
        SELECT n.run_id FROM trellis.node_runs n
        WHERE n.status = 'running' AND n.lease_expires_at < now()
        ORDER BY n.lease_expires_at
        LIMIT max_nodes
    ) c;
    IF runs IS NULL THEN
        RETURN 0;
    END IF;
    locked_runs := ARRAY(SELECT r.id FROM trellis.workflow_runs r WHERE r.id = ANY (runs) ORDER BY r.id FOR NO KEY UPDATE SKIP LOCKED);
    FOR expired IN
        SELECT n.id, n.run_id, n.node_key, n.handler, n.attempt, n.lost_leases, r.status AS run_status
        FROM trellis.node_runs n JOIN trellis.workflow_runs r ON r.id = n.run_id
        WHERE n.run_id = ANY (locked_runs) AND n.status = 'running' AND n.lease_expires_at < now()
        ORDER BY n.run_id, n.id
        FOR UPDATE OF n SKIP LOCKED
    LOOP
        failure := jsonb_build_object('code', 'lease_expired',
            'message', format('the scheduler running this node stopped renewing its lease (lost %s of at most %s times)',
                              expired.lost_leases + 1, bound));
        IF expired.lost_leases < bound THEN
            UPDATE trellis.node_attempts a SET outcome = 'lost', error = failure, finished_at = now()
            WHERE a.node_run_id = expired.id AND a.attempt = expired.attempt;
            UPDATE trellis.node_runs n
            SET status = CASE WHEN expired.run_status = 'paused' THEN 'held' ELSE 'ready' END,
                ready_at = now(), lease_expires_at = NULL, scheduler_id = NULL, error = failure,
                max_attempts = n.max_attempts + 1,  -- a lost attempt does not use up the retry budget
                lost_leases = n.lost_leases + 1
            WHERE n.id = expired.id;
            PERFORM trellis.append_event(expired.run_id, 'node.retry_scheduled', jsonb_build_object(
                'node_key', expired.node_key, 'attempt', expired.attempt, 'error', failure,
                'next_attempt_at', now(), 'delay_ms', 0, 'lost_lease', true));
            PERFORM pg_notify('trellis_ready', expired.handler);
        ELSE
            PERFORM trellis.apply_failure(expired.id, failure, false, 'lost');
            IF NOT expired.run_id = ANY (touched) THEN touched := touched || expired.run_id; END IF;
        END IF;
        reclaimed := reclaimed + 1;
    END LOOP;
    FOREACH run_id_ IN ARRAY touched LOOP
        PERFORM trellis.advance_run(run_id_);
    END LOOP;
    RETURN reclaimed;
END;
$fn$;
