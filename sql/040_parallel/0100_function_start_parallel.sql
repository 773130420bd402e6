-- A `parallel` node became due: its `items` binding is resolved against the run data and
-- one child node run is created per element (input = the element, item_index = its
-- position). The first `concurrency` children are ready, the rest wait their turn; the
-- parent waits (not claimable) until every child is done. An empty array succeeds at
-- once with []; a binding that is not an array fails the node (code items_not_array), and
-- so does one over trellis.max_parallel_items elements (too_many_items, default 10,000).
-- Children created while the run is paused are held until it resumes.
CREATE OR REPLACE FUNCTION trellis.start_parallel(parallel_node_run_id bigint) RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
    parent trellis.node_runs;
    settings jsonb;
    items jsonb;
    cap int;
    failure jsonb;
    paused boolean;
BEGIN
    SELECT * INTO parent FROM trellis.node_runs n WHERE n.id = parallel_node_run_id;
    SELECT wn.config INTO settings FROM trellis.workflow_nodes wn WHERE wn.id = parent.node_id;
    items := trellis.resolve_bindings(settings -> 'items', trellis.run_data(parent.run_id));
    IF jsonb_typeof(items) IS DISTINCT FROM 'array' THEN
        failure := jsonb_build_object('code', 'items_not_array',
            'message', format('items %s resolved to %s, not an array', settings ->> 'items', coalesce(jsonb_typeof(items), 'nothing')));
        UPDATE trellis.node_runs SET started_at = now() WHERE id = parent.id;
        PERFORM trellis.settle_failed(parent.id, failure);
        RETURN;
    END IF;
    IF jsonb_array_length(items) > trellis.setting('max_parallel_items', 10000) THEN
        failure := jsonb_build_object('code', 'too_many_items',
            'message', format('items %s resolved to %s elements, over the cap of %s (trellis.max_parallel_items)',
                              settings ->> 'items', jsonb_array_length(items), trellis.setting('max_parallel_items', 10000)));
        UPDATE trellis.node_runs SET started_at = now() WHERE id = parent.id;
        PERFORM trellis.settle_failed(parent.id, failure);
        RETURN;
    END IF;
    IF jsonb_array_length(items) = 0 THEN
        UPDATE trellis.node_runs SET started_at = now() WHERE id = parent.id;
        PERFORM trellis.settle_node(parent.id, 'succeeded', '[]'::jsonb, NULL);
        RETURN;
    END IF;
    -- Publishing bounds concurrency (1..10000); least() keeps an older version's value castable.
    cap := least(coalesce((settings ->> 'concurrency')::numeric, 2147483647), 2147483647)::int;
    paused := (SELECT r.status = 'paused' FROM trellis.workflow_runs r WHERE r.id = parent.run_id);
    UPDATE trellis.node_runs SET status = 'waiting', started_at = now() WHERE id = parent.id;
    INSERT INTO trellis.node_runs (run_id, workflow_id, node_id, parent_id, item_index, node_key, kind, handler, status, priority,
                                   max_attempts, ready_at, input)
    SELECT parent.run_id, parent.workflow_id, parent.node_id, parent.id, t.ordinality::int - 1, parent.node_key, parent.kind, parent.handler,
           CASE WHEN t.ordinality > cap THEN 'pending' WHEN paused THEN 'held' ELSE 'ready' END, parent.priority, parent.max_attempts,
           CASE WHEN t.ordinality <= cap THEN now() END, t.item
    FROM jsonb_array_elements(items) WITH ORDINALITY AS t(item, ordinality);
    PERFORM pg_notify('trellis_ready', parent.handler);
END;
$fn$;
