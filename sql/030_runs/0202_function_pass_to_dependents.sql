-- Passes settled nodes' outcomes to their dependents: each outgoing edge decrements the
-- dependent's remaining_deps, and counts as taken when the node passed (succeeded, or
-- failed with on_error = continue), the condition branch matches (edges labelled
-- "true"/"false" after a condition node) and the edge's own condition, if any, holds over
-- the run data. Reads the settled rows as their settling statement left them; callers
-- hold their locks and move the runs on afterwards (advance_run). Used by settle_nodes
-- and settle_succeeded; runs with its caller's settings (both force generic plans).
-- Dependents are found by a lookup per settled node and edge (LATERAL … OFFSET 0: the
-- planner cannot turn it into a join, which a generic plan made on near-empty tables once
-- hashed all of node_runs for) and updated by add_settled_inputs.
CREATE OR REPLACE FUNCTION trellis.pass_to_dependents(node_run_ids bigint[]) RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
    dependents bigint[];
    dependents_settled bigint[];
    dependents_taken bigint[];
BEGIN
    -- Each outgoing edge of a settled node, with whether it is taken, and its dependent's
    -- node run by its unique key (run, node key, no item).
    SELECT array_agg(p.id), array_agg(p.settled), array_agg(p.taken)
    INTO dependents, dependents_settled, dependents_taken
    FROM (
        SELECT d.id, count(*) AS settled, count(*) FILTER (WHERE e.taken) AS taken
        FROM unnest(node_run_ids) AS u(id)
        CROSS JOIN LATERAL (
            SELECT n.run_id, n.node_id, n.kind, n.output,
                   n.status = 'succeeded' OR (n.status = 'failed' AND wn.on_error = 'continue') AS passes
            FROM trellis.node_runs n JOIN trellis.workflow_nodes wn ON wn.id = n.node_id
            WHERE n.id = u.id
            OFFSET 0
        ) s
        CROSS JOIN LATERAL (
            SELECT e.to_node_id,
                   CASE WHEN NOT s.passes THEN false
                        WHEN s.kind = 'condition' AND e.label IN ('true', 'false')
                             AND (e.label = 'true') <> coalesce((s.output ->> 'result')::boolean, false) THEN false
                        WHEN e.condition IS NULL THEN true
                        ELSE coalesce(jsonb_path_match(trellis.condition_data(s.run_id), e.condition::jsonpath, '{}', true), false)
                   END AS taken
            FROM trellis.workflow_edges e WHERE e.from_node_id = s.node_id
            OFFSET 0
        ) e
        CROSS JOIN LATERAL (
            SELECT d.id FROM trellis.node_runs d
            WHERE d.run_id = s.run_id AND d.item_index IS NULL
              AND d.node_key = (SELECT t.key FROM trellis.workflow_nodes t WHERE t.id = e.to_node_id)
            OFFSET 0
        ) d
        GROUP BY d.id
    ) p;
    IF dependents IS NOT NULL THEN
        PERFORM trellis.add_settled_inputs(dependents, dependents_settled, dependents_taken);
    END IF;
END;
$fn$;
