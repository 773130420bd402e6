-- Sets (or clears, with NULL) a workflow's concurrency limits: at most max_runs runs
-- started and not finished at once (later runs stay queued, admitted in claim order), and
-- at most max_nodes of its node runs running at once across all its runs. The claim path
-- enforces both (claim_nodes). `actor` needs admin on the workflow. Lowering a limit
-- never stops running work; it only holds back new claims.
CREATE OR REPLACE FUNCTION trellis.set_workflow_limits(workflow text, max_runs integer, max_nodes integer,
                                                       actor text DEFAULT 'admin')
RETURNS TABLE (max_concurrent_runs integer, max_concurrent_nodes integer)
LANGUAGE plpgsql AS $fn$
DECLARE
    wf_id bigint := trellis.workflow_id(workflow);
BEGIN
    PERFORM trellis.require_privilege(trellis.principal_id(actor), wf_id, 'admin');
    IF max_runs IS NOT NULL AND max_runs < 1 THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('max concurrent runs must be at least 1, got %s', max_runs);
    END IF;
    IF max_nodes IS NOT NULL AND max_nodes < 1 THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('max concurrent nodes must be at least 1, got %s', max_nodes);
    END IF;
    -- The limits fence: claims in flight (which read the limits before this) finish
    -- first, and later ones read the new limits. The runs started so far take their
    -- slots now; claims mark the runs they start from here on (claim_nodes).
    PERFORM pg_advisory_xact_lock(1953261941, 0);
    IF max_runs IS NOT NULL THEN
        UPDATE trellis.workflow_runs r SET holds_slot = true
        WHERE r.workflow_id = wf_id AND r.finished_at IS NULL AND r.started_at IS NOT NULL AND NOT r.holds_slot;
    END IF;
    RETURN QUERY
    UPDATE trellis.workflows w SET max_concurrent_runs = max_runs, max_concurrent_nodes = max_nodes
    WHERE w.id = wf_id
    RETURNING w.max_concurrent_runs, w.max_concurrent_nodes;
END;
$fn$;
