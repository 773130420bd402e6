-- Read access for clients of the relay: `principal` needs `privilege` (view to read and
-- subscribe) on the run's workflow. Unknown run: TR404; no privilege: 42501. Returns the
-- run's status, so a subscriber knows whether the stream will end.
CREATE OR REPLACE FUNCTION trellis.require_run_access(run uuid, principal text, privilege text DEFAULT 'view')
RETURNS text
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
    r trellis.workflow_runs;
BEGIN
    SELECT * INTO r FROM trellis.workflow_runs w WHERE w.id = run;
    IF r.id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'TR404', MESSAGE = format('unknown run %s', run);
    END IF;
    PERFORM trellis.require_privilege(trellis.principal_id(principal), r.workflow_id, privilege);
    RETURN r.status;
END;
$fn$;

-- The snapshot behind GET /v1/runs/{id} (PROTOCOL.md): status, times, input, output,
-- error, summary (node counts by status, duration, total cost), node states and last_seq,
-- so a client subscribes with after = last_seq and never races the stream.
CREATE OR REPLACE FUNCTION trellis.run_snapshot(run uuid, principal text) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
    snapshot jsonb;
BEGIN
    PERFORM trellis.require_run_access(run, principal, 'view');
    SELECT jsonb_build_object(
        'run_id', r.id, 'workflow', w.name, 'version', v.version, 'status', r.status, 'priority', r.priority,
        'started_by', p.name, 'created_at', r.created_at, 'started_at', r.started_at, 'finished_at', r.finished_at,
        'input', r.input, 'output', r.output, 'error', r.error, 'last_seq', r.last_seq,
        'summary', jsonb_build_object(
            'nodes', (SELECT coalesce(jsonb_object_agg(s.status, s.n), '{}'::jsonb) FROM (
                SELECT n.status, count(*) AS n FROM trellis.node_runs n
                WHERE n.run_id = r.id AND n.parent_id IS NULL GROUP BY n.status) s),
            'duration_ms', round(extract(epoch FROM coalesce(r.finished_at, now()) - r.created_at) * 1000)::bigint,
            'total_cost', (SELECT coalesce(sum(n.cost), 0) FROM trellis.node_runs n WHERE n.run_id = r.id)),
        'nodes', (SELECT coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
                'node_key', n.node_key, 'kind', n.kind, 'status', n.status, 'attempts', n.attempt,
                'started_at', n.started_at, 'finished_at', n.finished_at, 'cost', n.cost, 'error', n.error,
                'output', n.output))
                ORDER BY n.id), '[]'::jsonb)
            FROM trellis.node_runs n WHERE n.run_id = r.id AND n.parent_id IS NULL))
    INTO snapshot
    FROM trellis.workflow_runs r
    JOIN trellis.workflows w ON w.id = r.workflow_id
    JOIN trellis.workflow_versions v ON v.id = r.version_id
    LEFT JOIN trellis.principals p ON p.id = r.started_by
    WHERE r.id = run;
    RETURN snapshot;
END;
$fn$;

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

-- GET /v1/approvals: approvals of workflows the principal may view, oldest first.
CREATE OR REPLACE FUNCTION trellis.list_approvals(principal text, approval_status text DEFAULT 'pending',
                                                  max_items integer DEFAULT 100)
RETURNS jsonb
LANGUAGE plpgsql STABLE AS $fn$
BEGIN
    PERFORM trellis.principal_id(principal);
    IF approval_status IS NOT NULL AND approval_status NOT IN ('pending', 'approved', 'rejected', 'expired') THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('unknown approval status "%s"', approval_status);
    END IF;
    RETURN (SELECT coalesce(jsonb_agg(x.item ORDER BY x.created_at, x.id), '[]'::jsonb) FROM (
        SELECT a.id, a.created_at, jsonb_strip_nulls(jsonb_build_object(
                   'approval_id', a.id, 'run_id', a.run_id, 'workflow', w.name, 'node_key', n.node_key,
                   'status', a.status, 'prompt', a.prompt, 'required_approvals', a.required_approvals,
                   'approvals', (SELECT count(*) FROM trellis.approval_decisions d WHERE d.approval_id = a.id AND d.decision = 'approve'),
                   'requested_at', a.created_at, 'expires_at', a.expires_at, 'decided_at', a.decided_at)) AS item
        FROM trellis.approvals a
        JOIN trellis.workflow_runs r ON r.id = a.run_id
        JOIN trellis.workflows w ON w.id = r.workflow_id
        JOIN trellis.node_runs n ON n.id = a.node_run_id
        WHERE (approval_status IS NULL OR a.status = approval_status)
          AND trellis.has_privilege(principal, w.name, 'view')
        ORDER BY a.created_at, a.id
        LIMIT greatest(1, least(coalesce(max_items, 100), 1000))) x);
END;
$fn$;
