-- Ends runs whose nodes are all terminal, set-based (a completed batch finishes many
-- one-node runs at once): status (failed when a node failed the run, cancelled when
-- cancelled, else succeeded), output (the outputs of its sink nodes that produced one, by
-- node key), total cost, and the final run.finished event — always the run's highest seq —
-- with one doorbell per run. Runs already finished are left alone. The run rows are locked
-- in id order.
CREATE OR REPLACE FUNCTION trellis.finish_runs(runs uuid[]) RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
    notified bigint;
BEGIN
    PERFORM 1 FROM trellis.workflow_runs r WHERE r.id = ANY (runs) ORDER BY r.id FOR NO KEY UPDATE;
    WITH target AS (
        SELECT r.id, CASE WHEN r.failed_node IS NOT NULL THEN 'failed'
                          WHEN r.cancel_requested_at IS NOT NULL THEN 'cancelled'
                          ELSE 'succeeded' END AS final_status
        FROM trellis.workflow_runs r WHERE r.id = ANY (runs) AND r.finished_at IS NULL
    ), finished AS (
        UPDATE trellis.workflow_runs w
        SET status = t.final_status, finished_at = now(), started_at = coalesce(w.started_at, now()),
            total_cost = a.total_cost, output = CASE WHEN t.final_status = 'succeeded' THEN a.output END,
            last_seq = w.last_seq + 1
        FROM target t
        CROSS JOIN LATERAL (
            SELECT coalesce(sum(n.cost), 0) AS total_cost,
                   coalesce(jsonb_object_agg(n.node_key, n.output) FILTER (
                       WHERE n.parent_id IS NULL AND n.output IS NOT NULL
                         AND NOT EXISTS (SELECT 1 FROM trellis.workflow_edges e WHERE e.from_node_id = n.node_id)), '{}'::jsonb) AS output
            FROM trellis.node_runs n WHERE n.run_id = t.id
        ) a
        WHERE w.id = t.id
        RETURNING w.id, w.last_seq, w.status, w.finished_at, w.created_at, w.total_cost, w.error
    ), inserted AS (
        INSERT INTO trellis.run_events (run_id, seq, type, data)
        SELECT f.id, f.last_seq, 'run.finished', jsonb_strip_nulls(jsonb_build_object(
                   'status', f.status, 'finished_at', f.finished_at,
                   'duration_ms', round(extract(epoch FROM f.finished_at - f.created_at) * 1000)::bigint,
                   'total_cost', f.total_cost,
                   'summary', coalesce((SELECT jsonb_object_agg(s.status, s.n)
                                        FROM (SELECT n.status, count(*) AS n FROM trellis.node_runs n
                                              WHERE n.run_id = f.id AND n.parent_id IS NULL GROUP BY n.status) s), '{}'::jsonb),
                   'error', f.error))
        FROM finished f
        RETURNING run_events.run_id, run_events.seq
    )
    SELECT count(pg_notify('trellis_events', i.run_id::text || ':' || i.seq)) INTO notified FROM inserted i;
END;
$fn$;
