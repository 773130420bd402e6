-- Retention. A cutoff is "older than" a duration (30d, 12h, …): finished runs whose
-- finished_at is before now() minus it. Running, waiting, paused and queued runs are never
-- touched, however old.

-- What pruning at this cutoff would remove, without removing anything.
CREATE OR REPLACE FUNCTION trellis.prune_preview(older_than text, actor text DEFAULT 'admin')
RETURNS TABLE (runs bigint, node_runs bigint, attempts bigint, events bigint, approvals bigint, cutoff timestamptz)
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
    limit_at timestamptz := trellis.duration_ago(older_than, 'older-than');
BEGIN
    PERFORM trellis.require_administrator(trellis.principal_id(actor), 'prune run history');
    RETURN QUERY
    WITH victims AS (SELECT r.id FROM trellis.workflow_runs r WHERE r.created_at < limit_at AND r.finished_at < limit_at)
    SELECT (SELECT count(*) FROM victims),
           (SELECT count(*) FROM trellis.node_runs n WHERE n.run_id IN (SELECT id FROM victims)),
           (SELECT count(*) FROM trellis.node_attempts a WHERE a.run_id IN (SELECT id FROM victims)),
           (SELECT count(*) FROM trellis.run_events e WHERE e.run_id IN (SELECT id FROM victims)),
           (SELECT count(*) FROM trellis.approvals a WHERE a.run_id IN (SELECT id FROM victims)),
           limit_at;
END;
$fn$;
