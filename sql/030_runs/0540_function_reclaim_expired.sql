-- Returns running node runs whose lease expired (their scheduler is presumed dead) to the
-- retry policy: the attempt is recorded as lost, and the node is retried or fails like
-- any failed attempt. SKIP LOCKED makes it safe for every scheduler to call at once.
-- Returns how many were reclaimed.
CREATE OR REPLACE FUNCTION trellis.reclaim_expired(max_nodes integer DEFAULT 100) RETURNS integer
LANGUAGE plpgsql
-- One of the functions trellis_scheduler may call (sql/090_roles): runs with the owner's rights.
SECURITY DEFINER SET search_path = pg_catalog, trellis, pg_temp AS $fn$
DECLARE
    expired record;
    runs uuid[] := '{}';
    touched uuid;
    reclaimed int := 0;
BEGIN
    FOR expired IN
        WITH candidates AS (
            SELECT n.id, n.run_id FROM trellis.node_runs n
            WHERE n.status = 'running' AND n.lease_expires_at < now()
            ORDER BY n.lease_expires_at
            LIMIT max_nodes
            FOR UPDATE SKIP LOCKED
        )
        SELECT * FROM candidates ORDER BY run_id, id
    LOOP
        PERFORM trellis.apply_failure(expired.id,
            jsonb_build_object('code', 'lease_expired', 'message', 'the scheduler running this node stopped renewing its lease'),
            true, 'lost');
        IF NOT expired.run_id = ANY (runs) THEN runs := runs || expired.run_id; END IF;
        reclaimed := reclaimed + 1;
    END LOOP;
    FOREACH touched IN ARRAY runs LOOP
        PERFORM trellis.advance_run(touched);
    END LOOP;
    RETURN reclaimed;
END;
$fn$;
