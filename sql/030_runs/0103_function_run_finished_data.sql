-- The data of a run.finished event (PROTOCOL.md) for a run row just finished: status,
-- times, total cost, node counts by status, and the error of a failed run.
CREATE OR REPLACE FUNCTION trellis.run_finished_data(run trellis.workflow_runs) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $fn$
BEGIN
    RETURN jsonb_strip_nulls(jsonb_build_object(
        'status', run.status, 'finished_at', run.finished_at,
        'duration_ms', round(extract(epoch FROM run.finished_at - run.created_at) * 1000)::bigint,
        'total_cost', run.total_cost,
        'summary', coalesce((SELECT jsonb_object_agg(s.status, s.n)
                             FROM (SELECT n.status, count(*) AS n FROM trellis.node_runs n
                                   WHERE n.run_id = run.id AND n.parent_id IS NULL GROUP BY n.status) s), '{}'::jsonb),
        'error', run.error));
END;
$fn$;
