-- Ends a run whose nodes are all terminal: status (failed when a node failed the run,
-- cancelled when cancelled, else succeeded), output (the outputs of its sink nodes that
-- produced one, by node key), total cost, and the final run.finished event — always the
-- run's highest seq.
CREATE OR REPLACE FUNCTION trellis.finish_run(run uuid) RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
    r trellis.workflow_runs;
    final_status text;
    summary jsonb;
BEGIN
    SELECT * INTO r FROM trellis.workflow_runs WHERE id = run FOR UPDATE;
    IF r.finished_at IS NOT NULL THEN
        RETURN;
    END IF;
    final_status := CASE WHEN r.failed_node IS NOT NULL THEN 'failed'
                         WHEN r.cancel_requested_at IS NOT NULL THEN 'cancelled'
                         ELSE 'succeeded' END;
    SELECT jsonb_object_agg(s.status, s.n) INTO summary
    FROM (SELECT status, count(*) AS n FROM trellis.node_runs WHERE run_id = run AND parent_id IS NULL GROUP BY status) s;
    UPDATE trellis.workflow_runs w
    SET status = final_status,
        finished_at = now(),
        started_at = coalesce(w.started_at, now()),
        total_cost = coalesce((SELECT sum(n.cost) FROM trellis.node_runs n WHERE n.run_id = run), 0),
        output = CASE WHEN final_status = 'succeeded' THEN (
            SELECT coalesce(jsonb_object_agg(n.node_key, n.output), '{}'::jsonb)
            FROM trellis.node_runs n
            WHERE n.run_id = run AND n.parent_id IS NULL AND n.output IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM trellis.workflow_edges e WHERE e.from_node_id = n.node_id)) END
    WHERE w.id = run
    RETURNING * INTO r;
    PERFORM trellis.append_event(run, 'run.finished', jsonb_strip_nulls(jsonb_build_object(
        'status', final_status, 'finished_at', r.finished_at,
        'duration_ms', round(extract(epoch FROM r.finished_at - r.created_at) * 1000)::bigint,
        'total_cost', r.total_cost, 'summary', coalesce(summary, '{}'::jsonb), 'error', r.error)));
END;
$fn$;
