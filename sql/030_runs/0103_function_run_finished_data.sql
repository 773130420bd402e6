-- The data of a run.finished event (PROTOCOL.md) for a run just finished: status, times,
-- total cost, node counts by status (run_result's summary), and the error of a failed run.
-- A SQL expression the planner inlines; it once read the node runs itself from plpgsql,
-- once per finished run. It takes the columns it reports, not the run's row: a row made a
-- value (`RETURNING w`) is detoasted whole, and a run's input and context can be large
-- (kilobytes to megabytes out of line), read on every settle of its nodes for nothing
-- (its signature changed twice, so the old ones are dropped).
DROP FUNCTION IF EXISTS trellis.run_finished_data(trellis.workflow_runs);
DROP FUNCTION IF EXISTS trellis.run_finished_data(trellis.workflow_runs, jsonb);
CREATE OR REPLACE FUNCTION trellis.run_finished_data(final_status text, finished_at timestamptz, created_at timestamptz,
                                                     total_cost numeric, error jsonb, summary jsonb) RETURNS jsonb
LANGUAGE sql STABLE AS $fn$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'status', final_status, 'finished_at', finished_at,
        'duration_ms', round(extract(epoch FROM finished_at - created_at) * 1000)::bigint,
        'total_cost', total_cost, 'summary', coalesce(summary, '{}'::jsonb), 'error', error))
$fn$;
