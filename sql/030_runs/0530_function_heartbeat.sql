-- A scheduler's heartbeat: marks the instance alive and extends the lease of the listed
-- node runs it still holds (running, claimed by it). Rows come back for every listed id:
-- held = false means the node was reclaimed, finished or cancelled — stop its handler.
CREATE OR REPLACE FUNCTION trellis.heartbeat(scheduler bigint, node_run_ids bigint[], lease interval DEFAULT '30 seconds')
RETURNS TABLE (node_run_id bigint, held boolean)
LANGUAGE plpgsql
-- One of the functions trellis_scheduler may call (sql/090_roles): runs with the owner's rights.
SECURITY DEFINER SET search_path = pg_catalog, trellis, pg_temp AS $fn$
BEGIN
    UPDATE trellis.schedulers SET heartbeat_at = now() WHERE id = scheduler AND stopped_at IS NULL;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'TR404', MESSAGE = format('unknown or stopped scheduler %s', scheduler);
    END IF;
    RETURN QUERY
    WITH extended AS (
        UPDATE trellis.node_runs n SET lease_expires_at = now() + lease
        WHERE n.id = ANY (node_run_ids) AND n.status = 'running' AND n.scheduler_id = scheduler
        RETURNING n.id
    )
    SELECT id, EXISTS (SELECT 1 FROM extended e WHERE e.id = ids.id)
    FROM unnest(coalesce(node_run_ids, '{}')) AS ids(id);
END;
$fn$;
