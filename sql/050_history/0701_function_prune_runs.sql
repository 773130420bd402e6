-- Deletes one bounded batch (oldest first) of finished runs before the cutoff, with
-- their approvals and votes (ON DELETE CASCADE), node runs, attempts and events (the
-- statement trigger delete_run_rows), each walking an index on run_id, and reports what
-- it removed. Rows another transaction holds are skipped, so pruning never waits on live
-- work; call it until it returns runs = 0 — each call is its own short transaction
-- (`trellis prune` does).
CREATE OR REPLACE FUNCTION trellis.prune_runs(older_than text, max_runs integer DEFAULT 500, actor text DEFAULT 'admin')
RETURNS TABLE (runs bigint, node_runs bigint, attempts bigint, events bigint, approvals bigint, cutoff timestamptz)
LANGUAGE plpgsql AS $fn$
DECLARE
    limit_at timestamptz := trellis.duration_ago(older_than, 'older-than');
    victims uuid[];
BEGIN
    PERFORM trellis.require_administrator(trellis.principal_id(actor), 'prune run history');
    IF max_runs IS NULL OR max_runs NOT BETWEEN 1 AND 10000 THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('batch must be 1 to 10000 runs, got %s', max_runs);
    END IF;
    SELECT coalesce(array_agg(v.id), '{}') INTO victims FROM (
        -- A run finished before the cutoff was created before it: the scan walks
        -- workflow_runs_created_idx (there is no index on finished_at, so a run's finish
        -- writes one index entry less).
        SELECT r.id FROM trellis.workflow_runs r
        WHERE r.created_at < limit_at AND r.finished_at < limit_at
        ORDER BY r.created_at
        LIMIT max_runs
        FOR UPDATE SKIP LOCKED
    ) v;
    runs := cardinality(victims);
    node_runs := (SELECT count(*) FROM trellis.node_runs n WHERE n.run_id = ANY (victims));
    attempts := (SELECT count(*) FROM trellis.node_attempts a WHERE a.run_id = ANY (victims));
    events := (SELECT count(*) FROM trellis.run_events e WHERE e.run_id = ANY (victims));
    approvals := (SELECT count(*) FROM trellis.approvals a WHERE a.run_id = ANY (victims));
    cutoff := limit_at;
    DELETE FROM trellis.workflow_runs r WHERE r.id = ANY (victims);
    PERFORM trellis.prune_artifacts(100);  -- what only those runs referenced
    RETURN NEXT;
END;
$fn$;
