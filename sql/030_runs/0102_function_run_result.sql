-- A finishing run's result: the total cost of its node runs, and the outputs of its sink
-- nodes that produced one, by node key. A SQL table function, so the planner inlines it
-- into the statement that finishes runs (append_events, finish_runs).
CREATE OR REPLACE FUNCTION trellis.run_result(run uuid) RETURNS TABLE (total_cost numeric, output jsonb)
LANGUAGE sql STABLE AS $fn$
    SELECT coalesce(sum(n.cost), 0),
           coalesce(jsonb_object_agg(n.node_key, n.output) FILTER (
               WHERE n.parent_id IS NULL AND n.output IS NOT NULL
                 AND NOT EXISTS (SELECT 1 FROM trellis.workflow_edges e WHERE e.from_node_id = n.node_id)), '{}'::jsonb)
    FROM trellis.node_runs n WHERE n.run_id = run
$fn$;
