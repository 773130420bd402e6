-- The snapshot behind GET /v1/runs/{id} and the WebSocket `state` op (PROTOCOL.md):
-- status, times, input, output, error, summary (node counts by status, duration, total
-- cost), progress, the graph (levels and edges of the run's version) and every top-level
-- node with its level, status, attempts, timings and last progress report, and last_seq,
-- so a client draws the run from one response and subscribes with after = last_seq
-- without racing the stream.
--
-- progress.percent = 100 × (finished nodes + Σ percent/100 of running nodes' last
-- node.progress) / all nodes, over top-level nodes; finished means succeeded, failed,
-- skipped or cancelled, so a run in a terminal state is at 100.
CREATE OR REPLACE FUNCTION trellis.run_snapshot(run uuid, principal text) RETURNS jsonb
LANGUAGE plpgsql STABLE
-- Generic plans, made once per session (one statement was planned afresh on every call):
-- every read here is by the run's id.
SET plan_cache_mode = force_generic_plan AS $fn$
DECLARE
    snapshot jsonb;
    graph jsonb;
    nodes jsonb;
    done bigint;
    total bigint;
    partial numeric;
BEGIN
    PERFORM trellis.require_run_access(run, principal, 'view');
    SELECT trellis.workflow_graph(r.version_id) INTO graph FROM trellis.workflow_runs r WHERE r.id = run;
    WITH reported AS (
        -- The last progress report of each node's current attempt.
        SELECT DISTINCT ON ((e.data ->> 'node_run_id')::bigint)
               (e.data ->> 'node_run_id')::bigint AS node_run_id, (e.data ->> 'attempt')::int AS attempt,
               e.data -> 'percent' AS percent, e.data ->> 'message' AS message
        FROM trellis.run_events e
        WHERE e.run_id = run AND e.type = 'node.progress'
        ORDER BY (e.data ->> 'node_run_id')::bigint, e.seq DESC
    )
    SELECT coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
               'node_key', n.node_key, 'node_run_id', n.id, 'kind', n.kind, 'handler', n.handler,
               'level', wn.execution_level, 'status', n.status, 'attempts', n.attempt,
               'started_at', n.started_at, 'finished_at', n.finished_at,
               'duration_ms', CASE WHEN n.started_at IS NOT NULL
                                   THEN round(extract(epoch FROM coalesce(n.finished_at, now()) - n.started_at) * 1000)::bigint END,
               'progress', CASE WHEN n.status = 'running' AND p.attempt = n.attempt
                                THEN jsonb_strip_nulls(jsonb_build_object('percent', p.percent, 'message', p.message)) END,
               'cost', n.cost, 'error', n.error, 'output', n.output))
               ORDER BY wn.execution_level, wn.position, n.id), '[]'::jsonb),
           count(*) FILTER (WHERE n.status IN ('succeeded', 'failed', 'skipped', 'cancelled')),
           count(*),
           coalesce(sum(CASE WHEN n.status = 'running' AND p.attempt = n.attempt AND jsonb_typeof(p.percent) = 'number'
                             THEN (p.percent #>> '{}')::numeric / 100 END), 0)
    INTO nodes, done, total, partial
    FROM trellis.node_runs n
    JOIN trellis.workflow_nodes wn ON wn.id = n.node_id
    LEFT JOIN reported p ON p.node_run_id = n.id
    WHERE n.run_id = run AND n.parent_id IS NULL;

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
        'progress', jsonb_build_object(
            'percent', CASE WHEN total = 0 THEN 100 ELSE round(100 * (done + partial) / total, 1) END,
            'finished', done, 'total', total),
        'graph', jsonb_build_object('levels', graph -> 'levels', 'edges', graph -> 'edges'),
        'nodes', nodes)
    INTO snapshot
    FROM trellis.workflow_runs r
    JOIN trellis.workflows w ON w.id = r.workflow_id
    JOIN trellis.workflow_versions v ON v.id = r.version_id
    LEFT JOIN trellis.principals p ON p.id = r.started_by
    WHERE r.id = run;
    RETURN snapshot;
END;
$fn$;
