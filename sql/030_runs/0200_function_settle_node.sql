-- Moves a node run to a terminal status, records its events, and passes the outcome to
-- its dependents: each outgoing edge decrements the dependent's remaining_deps, and
-- counts as taken when the node passed (succeeded, or failed with on_error = continue),
-- the condition branch matches (edges labelled "true"/"false" after a condition node)
-- and the edge's own condition, if any, holds over the run data.
-- Callers hold the node run's row lock; advance_run then moves dependents on.
CREATE OR REPLACE FUNCTION trellis.settle_node(node_run_id bigint, final_status text, node_output jsonb, node_error jsonb)
RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
    nr trellis.node_runs;
    continues boolean;
    passes boolean;
    edge record;
    data jsonb;
    taken boolean;
    output_bytes int;
BEGIN
    UPDATE trellis.node_runs n
    SET status = final_status, output = node_output, error = node_error, finished_at = now(), lease_expires_at = NULL
    WHERE n.id = node_run_id
    RETURNING * INTO nr;
    UPDATE trellis.workflow_runs SET nodes_remaining = nodes_remaining - 1 WHERE id = nr.run_id;

    output_bytes := coalesce(octet_length(node_output::text), 0);
    PERFORM trellis.append_event(nr.run_id, 'node.finished', jsonb_strip_nulls(jsonb_build_object(
        'node_key', nr.node_key, 'node_run_id', nr.id, 'attempt', nr.attempt, 'status', final_status,
        'duration_ms', CASE WHEN nr.started_at IS NOT NULL
                            THEN round(extract(epoch FROM nr.finished_at - nr.started_at) * 1000)::bigint END,
        'item_count', CASE WHEN jsonb_typeof(node_output) = 'array' THEN jsonb_array_length(node_output) END,
        'output_bytes', output_bytes, 'cost', nr.cost, 'error', node_error)));
    IF node_output IS NOT NULL THEN
        PERFORM trellis.append_event(nr.run_id, 'node.output', jsonb_build_object(
            'node_key', nr.node_key, 'attempt', nr.attempt, 'output_bytes', output_bytes,
            'truncated', output_bytes > 65536,
            'output', CASE WHEN output_bytes > 65536 THEN NULL ELSE node_output END));
    END IF;

    SELECT wn.on_error = 'continue' INTO continues FROM trellis.workflow_nodes wn WHERE wn.id = nr.node_id;
    passes := final_status = 'succeeded' OR (final_status = 'failed' AND continues);
    FOR edge IN SELECT e.to_node_id, e.label, e.condition FROM trellis.workflow_edges e WHERE e.from_node_id = nr.node_id LOOP
        taken := passes;
        IF taken AND nr.kind = 'condition' AND edge.label IN ('true', 'false') THEN
            taken := (edge.label = 'true') = coalesce((node_output ->> 'result')::boolean, false);
        END IF;
        IF taken AND edge.condition IS NOT NULL THEN
            data := coalesce(data, trellis.run_data(nr.run_id));
            taken := coalesce(jsonb_path_match(data, edge.condition::jsonpath, '{}', true), false);
        END IF;
        UPDATE trellis.node_runs d
        SET remaining_deps = greatest(d.remaining_deps - 1, 0), taken_deps = d.taken_deps + taken::int
        WHERE d.run_id = nr.run_id AND d.node_id = edge.to_node_id AND d.parent_id IS NULL;
    END LOOP;
END;
$fn$;
