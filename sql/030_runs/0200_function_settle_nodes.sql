-- Moves node runs to terminal statuses in one set-based pass (the hot path settles a
-- whole completed batch at once): each row's status, output, error and added cost; the
-- runs' remaining-node counters; node.finished (+ node.output) events in array order;
-- and the outcome passed to dependents: each outgoing edge decrements the dependent's
-- remaining_deps, and counts as taken when the node passed (succeeded, or failed with
-- on_error = continue), the condition branch matches (edges labelled "true"/"false"
-- after a condition node) and the edge's own condition, if any, holds over the run data.
-- Callers hold the node runs' row locks; advance_run then moves dependents on. Runs of
-- `finishing` (whose settled nodes have no dependents) end here when nothing is left
-- (append_events), in the same update of their row as their counters; when every
-- settled node's run is one of them, nothing depends on the batch and the dependents'
-- pass is skipped.
DROP FUNCTION IF EXISTS trellis.settle_nodes(bigint[], text[], jsonb[], jsonb[], numeric[]);
CREATE OR REPLACE FUNCTION trellis.settle_nodes(node_run_ids bigint[], final_statuses text[], node_outputs jsonb[],
                                                node_errors jsonb[], added_costs numeric[] DEFAULT NULL,
                                                finishing uuid[] DEFAULT '{}')
RETURNS void
LANGUAGE plpgsql
-- Generic plans, made once per session: the dependents' statement below was planned
-- afresh on every call (custom plans for its array parameters), 0.5 ms of planning for
-- 0.4 ms of execution on each completed batch (pg_stat_statements, track_planning).
-- A generic plan is kept until the statistics change, and one made on near-empty tables
-- can take anything for small: a session that planned the dependents' update as a join
-- hashed all of node_runs on every later call (1.1 ms per completion at 6,000 node runs,
-- growing with them). Dependents are now found by a lookup per settled node and edge
-- (LATERAL … OFFSET 0: the planner cannot turn it into a join) and updated by
-- add_settled_inputs.
SET plan_cache_mode = force_generic_plan AS $fn$
DECLARE
    settled_runs uuid[];
    settled_counts bigint[];
    only_sinks boolean;
    dependents bigint[];
    dependents_settled bigint[];
    dependents_taken bigint[];
BEGIN
    -- The settled nodes' runs and how many each settled, from the update itself, and
    -- whether every one of them is `finishing` (so no settled node has a dependent).
    WITH settled AS (
        UPDATE trellis.node_runs n
        SET status = s.status, output = s.output, error = s.error, finished_at = now(), lease_expires_at = NULL,
            cost = n.cost + coalesce(s.cost, 0)
        FROM unnest(node_run_ids, final_statuses, node_outputs, node_errors, coalesce(added_costs, '{}'))
             AS s(id, status, output, error, cost)
        WHERE n.id = s.id
        RETURNING n.run_id
    )
    SELECT coalesce(array_agg(c.run_id), '{}'), coalesce(array_agg(c.n), '{}'), coalesce(bool_and(c.run_id = ANY (finishing)), false)
    INTO settled_runs, settled_counts, only_sinks
    FROM (SELECT settled.run_id, count(*) AS n FROM settled GROUP BY settled.run_id) c;

    -- The events, and the runs' remaining-node counters in the same update of each run row
    -- (append_events locks the run rows in id order: no deadlock between batches). Every
    -- settled node makes a node.finished event, so every run counted gets events.
    PERFORM trellis.append_events(array_agg(e.run_id ORDER BY e.ord, e.k), array_agg(e.type ORDER BY e.ord, e.k),
                                  array_agg(e.data ORDER BY e.ord, e.k), '{}', settled_runs, settled_counts,
                                  coalesce(finishing, '{}'))
    FROM (
        SELECT n.run_id, s.ord, k.k,
               CASE k.k WHEN 1 THEN 'node.finished' ELSE 'node.output' END AS type,
               CASE k.k
                   WHEN 1 THEN jsonb_strip_nulls(jsonb_build_object(
                       'node_key', n.node_key, 'node_run_id', n.id, 'attempt', n.attempt, 'status', n.status,
                       'duration_ms', CASE WHEN n.started_at IS NOT NULL
                                           THEN round(extract(epoch FROM n.finished_at - n.started_at) * 1000)::bigint END,
                       'item_count', CASE WHEN jsonb_typeof(n.output) = 'array' THEN jsonb_array_length(n.output) END,
                       'output_bytes', b.bytes, 'cost', n.cost, 'error', n.error, 'reused_from', n.reused_from))
                   ELSE jsonb_build_object(
                       'node_key', n.node_key, 'attempt', n.attempt, 'output_bytes', b.bytes, 'truncated', b.bytes > 65536,
                       'output', CASE WHEN b.bytes > 65536 THEN NULL ELSE n.output END)
               END AS data
        FROM unnest(node_run_ids) WITH ORDINALITY AS s(id, ord)
        CROSS JOIN LATERAL (SELECT n.* FROM trellis.node_runs n WHERE n.id = s.id OFFSET 0) n
        CROSS JOIN LATERAL (SELECT coalesce(octet_length(n.output::text), 0) AS bytes) b
        CROSS JOIN LATERAL (VALUES (1), (2)) AS k(k)
        WHERE k.k = 1 OR n.output IS NOT NULL
    ) e;

    IF only_sinks THEN
        RETURN;  -- nothing depends on what was settled (a fan-out's leaves, one-node runs)
    END IF;
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
