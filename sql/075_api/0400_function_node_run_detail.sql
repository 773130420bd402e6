-- GET /v1/runs/{id}/nodes/{key}: one node of a run as its detail pane shows it: status,
-- input, output, error, cost, times, every attempt (who ran it, outcome, error), the last
-- progress report, the last `log_lines` node.log events (oldest first), and for a
-- `parallel` node its items by status. `view` on the run's workflow required.
CREATE OR REPLACE FUNCTION trellis.node_run_detail(run uuid, node_key text, principal text, log_lines integer DEFAULT 50)
RETURNS jsonb
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
    nr trellis.node_runs;
BEGIN
    PERFORM trellis.require_run_access(run, principal, 'view');
    IF log_lines IS NULL OR log_lines NOT BETWEEN 0 AND 1000 THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('logs must be 0 to 1000, got %s', log_lines);
    END IF;
    SELECT * INTO nr FROM trellis.node_runs n
    WHERE n.run_id = node_run_detail.run AND n.node_key = node_run_detail.node_key AND n.parent_id IS NULL;
    IF nr.id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'TR404', MESSAGE = format('run %s has no node "%s"', run, node_key);
    END IF;
    RETURN jsonb_strip_nulls(jsonb_build_object(
        'run_id', nr.run_id, 'node_key', nr.node_key, 'node_run_id', nr.id, 'kind', nr.kind, 'handler', nr.handler,
        'status', nr.status, 'attempts', nr.attempt, 'max_attempts', nr.max_attempts, 'lost_leases', nr.lost_leases,
        'ready_at', nr.ready_at, 'started_at', nr.started_at, 'finished_at', nr.finished_at,
        'duration_ms', CASE WHEN nr.started_at IS NOT NULL
                            THEN round(extract(epoch FROM coalesce(nr.finished_at, now()) - nr.started_at) * 1000)::bigint END,
        'claimed_by', CASE WHEN nr.status = 'running' THEN nr.claimed_by END,
        'cost', nr.cost, 'input', nr.input, 'output', nr.output, 'error', nr.error,
        'attempt_history', (SELECT coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
                'attempt', a.attempt, 'outcome', a.outcome, 'scheduler', a.scheduler_name, 'started_at', a.started_at,
                'finished_at', a.finished_at, 'cost', a.cost, 'error', a.error)) ORDER BY a.attempt), '[]'::jsonb)
            FROM trellis.node_attempts a WHERE a.node_run_id = nr.id),
        'progress', (SELECT e.data - 'node_key' - 'node_run_id' FROM trellis.run_events e
                     WHERE e.run_id = nr.run_id AND e.type = 'node.progress' AND (e.data ->> 'node_run_id')::bigint = nr.id
                     ORDER BY e.seq DESC LIMIT 1),
        'logs', (SELECT coalesce(jsonb_agg(l.item ORDER BY l.seq), '[]'::jsonb) FROM (
                    SELECT e.seq, jsonb_build_object('seq', e.seq, 'ts', e.ts) || (e.data - 'node_key' - 'node_run_id') AS item
                    FROM trellis.run_events e
                    WHERE e.run_id = nr.run_id AND e.type = 'node.log' AND e.data ->> 'node_key' = nr.node_key
                    ORDER BY e.seq DESC LIMIT log_lines) l),
        'items', CASE WHEN nr.kind = 'parallel' THEN
                    (SELECT coalesce(jsonb_object_agg(c.status, c.n), '{}'::jsonb) FROM (
                        SELECT i.status, count(*) AS n FROM trellis.node_runs i WHERE i.parent_id = nr.id GROUP BY i.status) c)
                 END));
END;
$fn$;
