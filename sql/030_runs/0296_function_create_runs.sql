-- Creates runs of one pinned version, set-based: one statement each for the run rows,
-- their node runs and their run.queued events (seq 1), then the roots become ready in one
-- statement with their inputs resolved, with one trellis_ready doorbell per handler and
-- one trellis_events doorbell per run. Versions whose roots include control nodes (or
-- that have no nodes) are moved on by advance_run, run by run. Inputs and options are
-- checked by the callers (start_run, start_runs). With an idempotency key in `options`
-- (one input only) a conflicting run is not created: the result is then empty.
-- Returns the new runs' ids in input order.
CREATE OR REPLACE FUNCTION trellis.create_runs(wf_id bigint, workflow text, pinned trellis.workflow_versions,
                                               actor_id bigint, principal text, inputs jsonb[], options jsonb)
RETURNS uuid[]
LANGUAGE plpgsql AS $fn$
DECLARE
    ids uuid[];
    created uuid[];
    prio int := coalesce((options ->> 'priority')::int, 0);
    node_count int;
    stepwise boolean;
    woken text[];
    run uuid;
BEGIN
    SELECT count(*), coalesce(bool_or(wn.upstream_count = 0 AND wn.kind NOT IN ('agent_call', 'tool_call')), false)
    INTO node_count, stepwise
    FROM trellis.workflow_nodes wn WHERE wn.version_id = pinned.id;
    stepwise := stepwise OR node_count = 0;

    ids := ARRAY(SELECT gen_random_uuid() FROM generate_series(1, cardinality(inputs)));
    WITH inserted AS (
        INSERT INTO trellis.workflow_runs (id, workflow_id, version_id, input, context, started_by, priority,
                                           idempotency_key, nodes_remaining, last_seq)
        SELECT u.id, wf_id, pinned.id, coalesce(u.input, '{}'), coalesce(options -> 'context', '{}'), actor_id, prio,
               options ->> 'idempotency_key', node_count, 1
        FROM unnest(ids, inputs) AS u(id, input)
        ON CONFLICT ON CONSTRAINT workflow_runs_workflow_id_idempotency_key_key DO NOTHING
        RETURNING id
    )
    SELECT coalesce(array_agg(inserted.id), '{}') INTO created FROM inserted;
    IF cardinality(created) < cardinality(ids) THEN
        -- Only an idempotency key can conflict, and it comes with one input.
        RETURN '{}';
    END IF;

    INSERT INTO trellis.node_runs (run_id, workflow_id, node_id, node_key, kind, handler, priority, max_attempts, remaining_deps)
    SELECT u.id, wf_id, wn.id, wn.key, wn.kind, wn.handler, prio, wn.retry_max_attempts, wn.upstream_count
    FROM unnest(ids) WITH ORDINALITY AS u(id, ord)
    CROSS JOIN trellis.workflow_nodes wn
    WHERE wn.version_id = pinned.id
    ORDER BY u.ord, wn.execution_level, wn.position;

    INSERT INTO trellis.run_events (run_id, seq, type, data)
    SELECT u.id, 1, 'run.queued', jsonb_build_object('workflow', workflow, 'version', pinned.version, 'priority', prio,
                                                     'started_by', principal)
    FROM unnest(ids) AS u(id);
    PERFORM pg_notify('trellis_events', u.id::text || ':1') FROM unnest(ids) AS u(id);

    IF stepwise THEN
        FOREACH run IN ARRAY ids LOOP
            PERFORM trellis.advance_run(run);
        END LOOP;
        RETURN ids;
    END IF;
    -- Every root is a work node: ready now, its input resolved against the run's input
    -- and context (no node has an output yet) — what advance_run would do, for all runs.
    WITH made AS (
        UPDATE trellis.node_runs n
        SET status = 'ready', ready_at = clock_timestamp(),
            input = CASE WHEN position('"$' IN wn.input::text) > 0
                         THEN trellis.resolve_bindings(wn.input, jsonb_build_object('input', r.input, 'context', r.context))
                         ELSE wn.input END
        FROM trellis.workflow_nodes wn, trellis.workflow_runs r
        WHERE n.run_id = ANY (ids) AND n.status = 'pending' AND n.remaining_deps = 0
          AND wn.id = n.node_id AND r.id = n.run_id
        RETURNING n.handler
    )
    SELECT array_agg(DISTINCT made.handler) INTO woken FROM made;
    PERFORM pg_notify('trellis_ready', h) FROM unnest(woken) AS h;
    RETURN ids;
END;
$fn$;
