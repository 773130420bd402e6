-- A finishing run's result: the total cost of its node runs, the outputs of its sink
-- nodes that produced one, by node key, and its top-level node runs counted by status
-- (the run.finished event's summary). A SQL table function, so the planner inlines it
-- into the statement that finishes runs (append_events, finish_runs): a batch finishing
-- many one-node runs computes every summary in the executor, where a plpgsql call per
-- run cost 8 % of a claim/complete pass (pg_stat_user_functions). Its result columns
-- changed once, so it is dropped and created again.
DROP FUNCTION IF EXISTS trellis.run_result(uuid);
CREATE FUNCTION trellis.run_result(run uuid) RETURNS TABLE (total_cost numeric, output jsonb, summary jsonb)
LANGUAGE sql STABLE AS $fn$
    SELECT coalesce(sum(n.cost), 0),
           coalesce(jsonb_object_agg(n.node_key, n.output) FILTER (
               WHERE n.parent_id IS NULL AND n.output IS NOT NULL
                 AND NOT EXISTS (SELECT 1 FROM trellis.workflow_edges e WHERE e.from_node_id = n.node_id)), '{}'::jsonb),
           (SELECT coalesce(jsonb_object_agg(s.status, s.n), '{}'::jsonb)
            FROM (SELECT m.status, count(*) AS n FROM trellis.node_runs m
                  WHERE m.run_id = run AND m.parent_id IS NULL GROUP BY m.status) s)
    FROM trellis.node_runs n WHERE n.run_id = run
$fn$;
