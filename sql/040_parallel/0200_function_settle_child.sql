-- Moves a child of a `parallel` node to a terminal status, then moves the parent on:
-- the next waiting child becomes ready (the concurrency cap), and when every child is
-- done the parent succeeds with the children's outputs in item order. A child that
-- failed for good (no attempts left, on_error = fail) fails the parent: the remaining
-- children are cancelled and the parent's on_error applies (fail: the run fails).
CREATE OR REPLACE FUNCTION trellis.settle_child(child_id bigint, final_status text, child_output jsonb, child_error jsonb)
RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
    child trellis.node_runs;
    parent trellis.node_runs;
    open_children int;
    failure jsonb;
BEGIN
    UPDATE trellis.node_runs n
    SET status = final_status, output = child_output, error = child_error, finished_at = now(), lease_expires_at = NULL
    WHERE n.id = child_id
    RETURNING * INTO child;
    PERFORM trellis.append_event(child.run_id, 'node.finished', jsonb_strip_nulls(jsonb_build_object(
        'node_key', child.node_key, 'node_run_id', child.id, 'item_index', child.item_index, 'attempt', child.attempt,
        'status', final_status, 'output_bytes', coalesce(octet_length(child_output::text), 0), 'cost', child.cost,
        'error', child_error,
        'duration_ms', CASE WHEN child.started_at IS NOT NULL
                            THEN round(extract(epoch FROM child.finished_at - child.started_at) * 1000)::bigint END)));
    SELECT * INTO parent FROM trellis.node_runs n WHERE n.id = child.parent_id FOR UPDATE;
    IF parent.status <> 'waiting' THEN
        RETURN;  -- the parent already failed or was cancelled
    END IF;

    IF final_status = 'failed' AND child_output IS NULL THEN
        -- A child failed for good: cancel its siblings and fail the parent.
        UPDATE trellis.node_attempts a SET outcome = 'cancelled', finished_at = now()
        FROM trellis.node_runs s
        WHERE s.parent_id = parent.id AND s.status = 'running' AND a.node_run_id = s.id AND a.attempt = s.attempt;
        PERFORM pg_notify('trellis_cancel', s.id::text) FROM trellis.node_runs s WHERE s.parent_id = parent.id AND s.status = 'running';
        UPDATE trellis.node_runs s SET status = 'cancelled', finished_at = now(), lease_expires_at = NULL
        WHERE s.parent_id = parent.id AND s.status IN ('pending', 'ready', 'held', 'running');
        failure := jsonb_build_object('code', 'item_failed', 'item_index', child.item_index,
                                      'message', format('item %s failed: %s', child.item_index, coalesce(child_error ->> 'message', 'error')));
        UPDATE trellis.node_runs SET cost = (SELECT coalesce(sum(cost), 0) FROM trellis.node_runs WHERE parent_id = parent.id) WHERE id = parent.id;
        PERFORM trellis.settle_failed(parent.id, failure);
        RETURN;
    END IF;

    -- Release the next waiting child, if any (lowest item first).
    WITH next AS (
        SELECT s.id FROM trellis.node_runs s
        WHERE s.parent_id = parent.id AND s.status = 'pending'
        ORDER BY s.item_index LIMIT 1
    )
    UPDATE trellis.node_runs s
    SET status = trellis.ready_status(s.run_id),
        ready_at = now()
    FROM next WHERE s.id = next.id;
    IF FOUND THEN
        PERFORM pg_notify('trellis_ready', parent.handler);
    END IF;

    SELECT count(*) INTO open_children FROM trellis.node_runs s
    WHERE s.parent_id = parent.id AND s.status NOT IN ('succeeded', 'failed', 'skipped', 'cancelled');
    IF open_children = 0 THEN
        UPDATE trellis.node_runs SET cost = (SELECT coalesce(sum(cost), 0) FROM trellis.node_runs WHERE parent_id = parent.id) WHERE id = parent.id;
        PERFORM trellis.settle_node(parent.id, 'succeeded',
            (SELECT jsonb_agg(s.output ORDER BY s.item_index) FROM trellis.node_runs s WHERE s.parent_id = parent.id), NULL);
    END IF;
END;
$fn$;
