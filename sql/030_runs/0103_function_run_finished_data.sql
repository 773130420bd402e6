-- The data of a run.finished event (PROTOCOL.md) for a run row just finished: status,
-- times, total cost, node counts by status (run_result's summary), and the error of a
-- failed run. A SQL expression the planner inlines; it once read the node runs itself
-- from plpgsql, once per finished run.
DROP FUNCTION IF EXISTS trellis.run_finished_data(trellis.workflow_runs);
CREATE OR REPLACE FUNCTION trellis.run_finished_data(run trellis.workflow_runs, summary jsonb) RETURNS jsonb
LANGUAGE sql STABLE AS $fn$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'status', run.status, 'finished_at', run.finished_at,
        'duration_ms', round(extract(epoch FROM run.finished_at - run.created_at) * 1000)::bigint,
        'total_cost', run.total_cost, 'summary', coalesce(summary, '{}'::jsonb), 'error', run.error))
$fn$;
