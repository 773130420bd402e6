-- Claims up to max_nodes ready nodes whose handler this scheduler serves, in priority
-- then ready_at order, in one statement: the CTE's FOR UPDATE SKIP LOCKED makes
-- concurrent schedulers take disjoint rows, and the LIMIT inside the CTE keeps the
-- planner from locking more than it returns. Each claim bumps `attempt` — the fencing
-- token every later result must present — sets the lease, and records an attempt row.
-- Served by the partial index node_runs_ready_idx.
CREATE OR REPLACE FUNCTION trellis.claim_nodes(scheduler bigint, handlers text[], max_nodes integer DEFAULT 32,
                                               lease interval DEFAULT '30 seconds')
RETURNS TABLE (node_run_id bigint, run_id uuid, node_key text, handler text, config jsonb, input jsonb,
               attempt integer, timeout_ms bigint, item_index integer)
LANGUAGE plpgsql AS $fn$
DECLARE
    scheduler_name text;
    claimed record;
BEGIN
    IF max_nodes IS NULL OR max_nodes NOT BETWEEN 1 AND 1000 THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('max_nodes must be 1 to 1000, got %s', max_nodes);
    END IF;
    IF lease IS NULL OR lease < interval '1 second' THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('lease must be at least 1 second, got %s', lease);
    END IF;
    SELECT s.name INTO scheduler_name FROM trellis.schedulers s WHERE s.id = scheduler AND s.stopped_at IS NULL;
    IF scheduler_name IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'TR404', MESSAGE = format('unknown or stopped scheduler %s', scheduler);
    END IF;
    FOR claimed IN
        WITH picked AS (
            SELECT n.id FROM trellis.node_runs n
            WHERE n.status = 'ready' AND n.ready_at <= now() AND n.handler = ANY (handlers)
            ORDER BY n.priority DESC, n.ready_at, n.id
            LIMIT max_nodes
            FOR UPDATE SKIP LOCKED
        ), updated AS (
            UPDATE trellis.node_runs n
            SET status = 'running', attempt = n.attempt + 1, scheduler_id = scheduler, claimed_by = scheduler_name,
                lease_expires_at = now() + lease, started_at = coalesce(n.started_at, now())
            FROM picked WHERE n.id = picked.id
            RETURNING n.id, n.run_id, n.node_id, n.node_key, n.handler, n.input, n.attempt, n.item_index
        )
        -- Run rows are locked in run-id order, so concurrent claimers cannot deadlock.
        SELECT u.*, wn.config AS node_config, wn.timeout_ms AS node_timeout
        FROM updated u JOIN trellis.workflow_nodes wn ON wn.id = u.node_id
        ORDER BY u.run_id, u.id
    LOOP
        INSERT INTO trellis.node_attempts (node_run_id, run_id, attempt, scheduler_id, scheduler_name)
        VALUES (claimed.id, claimed.run_id, claimed.attempt, scheduler, scheduler_name);
        UPDATE trellis.workflow_runs r SET status = 'running', started_at = now()
        WHERE r.id = claimed.run_id AND r.status = 'queued';
        IF FOUND THEN
            PERFORM trellis.append_event(claimed.run_id, 'run.started', jsonb_build_object(
                'workflow', (SELECT w.name FROM trellis.workflows w JOIN trellis.workflow_runs r ON r.workflow_id = w.id WHERE r.id = claimed.run_id),
                'version', (SELECT v.version FROM trellis.workflow_versions v JOIN trellis.workflow_runs r ON r.version_id = v.id WHERE r.id = claimed.run_id),
                'started_at', now()));
        END IF;
        PERFORM trellis.append_event(claimed.run_id, 'node.started', jsonb_build_object(
            'node_key', claimed.node_key, 'node_run_id', claimed.id, 'attempt', claimed.attempt, 'scheduler', scheduler_name));
        node_run_id := claimed.id;
        run_id := claimed.run_id;
        node_key := claimed.node_key;
        handler := claimed.handler;
        config := claimed.node_config;
        input := claimed.input;
        attempt := claimed.attempt;
        timeout_ms := claimed.node_timeout;
        item_index := claimed.item_index;
        RETURN NEXT;
    END LOOP;
END;
$fn$;
