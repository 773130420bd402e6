-- GET /v1/workflows/{name}/runs: newest first, `view` on the workflow required.
CREATE OR REPLACE FUNCTION trellis.list_workflow_runs(workflow text, principal text, run_status text DEFAULT NULL,
                                                      max_runs integer DEFAULT 50, skip integer DEFAULT 0)
RETURNS jsonb
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
    wf_id bigint := trellis.workflow_id(workflow);
BEGIN
    PERFORM trellis.require_privilege(trellis.principal_id(principal), wf_id, 'view');
    IF max_runs IS NULL OR max_runs NOT BETWEEN 1 AND 1000 THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('limit must be 1 to 1000, got %s', max_runs);
    END IF;
    IF skip IS NULL OR skip < 0 THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('offset must be 0 or more, got %s', skip);
    END IF;
    IF run_status IS NOT NULL AND run_status NOT IN ('queued', 'running', 'paused', 'waiting', 'succeeded', 'failed', 'cancelled') THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('unknown status "%s"', run_status);
    END IF;
    RETURN (SELECT coalesce(jsonb_agg(x.run ORDER BY x.created_at DESC, x.id), '[]'::jsonb) FROM (
        SELECT r.id, r.created_at, jsonb_build_object(
                   'run_id', r.id, 'version', v.version, 'status', r.status, 'started_by', p.name,
                   'created_at', r.created_at, 'finished_at', r.finished_at, 'total_cost', r.total_cost) AS run
        FROM trellis.workflow_runs r
        JOIN trellis.workflow_versions v ON v.id = r.version_id
        LEFT JOIN trellis.principals p ON p.id = r.started_by
        WHERE r.workflow_id = wf_id AND (run_status IS NULL OR r.status = run_status)
        ORDER BY r.created_at DESC, r.id
        LIMIT max_runs OFFSET skip) x);
END;
$fn$;

