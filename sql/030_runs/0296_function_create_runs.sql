-- Creates runs of one pinned version, set-based: one statement each for the run rows,
-- their node runs (roots inserted ready, their inputs resolved), the artifacts their
-- inputs reference ({"$artifact": sha}, checked readable by the starter) and their
-- run.queued events (seq 1), with one trellis_ready doorbell per handler and one trellis_events
-- doorbell per run. Versions whose roots include control nodes (or that have no nodes)
-- are moved on by advance_run, run by run. Inputs and options are checked by the callers
-- (start_run, start_runs). With an idempotency key in `options` (one input only) a
-- conflicting run is not created: the result is then empty. `retry_of` and `retry_root`
-- in `options` are set by retry_run only, `schedule_id` and `scheduled_for` by
-- fire_due_schedules (start_run's option check refuses them from callers).
-- Returns the new runs' ids in input order. The version comes as its id and number, not as
-- its row: a row made a value (a whole-row reference, a function argument) is detoasted
-- whole, and a definition with long prompts or configs (kilobytes to megabytes, stored out
-- of line) would be read and decompressed on every start for two small columns (the
-- signature changed once, so the old one is dropped).
DROP FUNCTION IF EXISTS trellis.create_runs(bigint, text, trellis.workflow_versions, bigint, text, jsonb[], jsonb);
CREATE OR REPLACE FUNCTION trellis.create_runs(wf_id bigint, workflow text, pinned_id bigint, pinned_number integer,
                                               actor_id bigint, principal text, inputs jsonb[], options jsonb)
RETURNS uuid[]
LANGUAGE plpgsql
-- Generic plans, made once per session: the custom plan of the node insert for one run of a
-- one-node workflow counts one unnest row and that version's nodes, its generic plan ten
-- rows and the average version's nodes, so with one wide workflow in the database (a
-- fan-out of 1,000 nodes) PostgreSQL judged the generic plans dearer and planned two
-- statements afresh on every start: one start_run call per run, pgbench, 1.0 → 0.6 ms.
-- Every statement here reads by key (the inputs, the version's nodes by version_id).
SET plan_cache_mode = force_generic_plan AS $fn$
DECLARE
    ids uuid[];
    created uuid[];
    prio int := coalesce((options ->> 'priority')::int, 0);
    node_count int;
    stepwise boolean;
    run uuid;
    has_artifacts boolean;
    notified bigint;
BEGIN
    -- Whether any input references an artifact: one scan of the inputs' text, so runs
    -- without artifacts (the usual start) pay for neither the check nor the references.
    -- One id per input, over unnest rather than generate_series(1, n): the generic plan of a
    -- series to a parameter counts 1,000 rows, so every start planned this statement afresh.
    -- A single input (start_run) takes both as expressions, not statements. Run ids are
    -- time-ordered (uuid_v7, migration 0028), so a run's index entries land on hot pages.
    IF cardinality(inputs) = 1 THEN
        has_artifacts := position('"$artifact"' IN coalesce(inputs[1]::text, '')) > 0;
        ids := ARRAY[trellis.uuid_v7()];
    ELSE
        has_artifacts := EXISTS (SELECT 1 FROM unnest(inputs) AS u(input)
                                 WHERE u.input IS NOT NULL AND position('"$artifact"' IN u.input::text) > 0);
        ids := ARRAY(SELECT trellis.uuid_v7() FROM unnest(inputs));
    END IF;
    SELECT count(*), coalesce(bool_or(wn.upstream_count = 0 AND wn.kind NOT IN ('agent_call', 'tool_call')), false)
    INTO node_count, stepwise
    FROM trellis.workflow_nodes wn WHERE wn.version_id = pinned_id;
    stepwise := stepwise OR node_count = 0;

    IF has_artifacts THEN
        PERFORM trellis.check_input_artifacts(actor_id, inputs);
    END IF;
    WITH inserted AS (
        INSERT INTO trellis.workflow_runs (id, workflow_id, version_id, input, context, started_by, priority,
                                           idempotency_key, nodes_remaining, last_seq, retry_of, retry_root, schedule_id,
                                           scheduled_for)
        SELECT u.id, wf_id, pinned_id, coalesce(u.input, '{}'), coalesce(options -> 'context', '{}'), actor_id, prio,
               options ->> 'idempotency_key', node_count, 1, (options ->> 'retry_of')::uuid, (options ->> 'retry_root')::uuid,
               (options ->> 'schedule_id')::bigint, (options ->> 'scheduled_for')::timestamptz
        FROM unnest(ids, inputs) AS u(id, input)
        ON CONFLICT (workflow_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
        RETURNING id
    )
    SELECT coalesce(array_agg(inserted.id), '{}') INTO created FROM inserted;
    IF cardinality(created) < cardinality(ids) THEN
        -- Only an idempotency key can conflict, and it comes with one input.
        RETURN '{}';
    END IF;

    -- Unless a root is a control node, every root is a work node: it is inserted ready, its
    -- input resolved against the run's input and context (no node has an output yet) —
    -- what advance_run would do, without writing each root twice.
    WITH made AS (
        INSERT INTO trellis.node_runs (run_id, workflow_id, node_id, node_key, kind, handler, priority, max_attempts,
                                       remaining_deps, status, ready_at, input)
        SELECT u.id, wf_id, wn.id, wn.key, wn.kind, wn.handler, prio, wn.retry_max_attempts, wn.upstream_count,
               CASE WHEN ready THEN 'ready' ELSE 'pending' END,
               CASE WHEN ready THEN clock_timestamp() END,
               CASE WHEN NOT ready THEN NULL
                    WHEN position('"$' IN wn.input::text) > 0
                    THEN trellis.resolve_bindings(wn.input, jsonb_build_object('input', coalesce(u.input, '{}'),
                                                                              'context', coalesce(options -> 'context', '{}')))
                    ELSE wn.input END
        FROM unnest(ids, inputs) WITH ORDINALITY AS u(id, input, ord)
        CROSS JOIN trellis.workflow_nodes wn
        CROSS JOIN LATERAL (SELECT NOT stepwise AND wn.upstream_count = 0 AS ready) k
        WHERE wn.version_id = pinned_id
        ORDER BY u.ord, wn.execution_level, wn.position
        RETURNING node_runs.handler, node_runs.status
    )
    -- One trellis_ready doorbell per handler of the ready roots (none when stepwise:
    -- advance_run rings for what it makes ready).
    SELECT count(pg_notify('trellis_ready', w.handler)) INTO notified
    FROM (SELECT DISTINCT made.handler FROM made WHERE made.status = 'ready') w;

    -- The artifacts the inputs reference: readers of these runs may read them.
    IF has_artifacts THEN
        WITH referenced AS (
            INSERT INTO trellis.artifact_refs (artifact_id, run_id, role)
            SELECT DISTINCT a.id, u.id, 'input'
            FROM unnest(ids, inputs) AS u(id, input)
            CROSS JOIN LATERAL jsonb_path_query(u.input, 'strict $.**."$artifact"') AS ref
            JOIN trellis.artifacts a ON a.sha256 = ref #>> '{}'
            WHERE u.input IS NOT NULL
            RETURNING artifact_id
        )
        UPDATE trellis.artifacts a SET referenced_at = now() WHERE a.id IN (SELECT r.artifact_id FROM referenced r);
    END IF;

    WITH queued AS (
        INSERT INTO trellis.run_events (run_id, seq, type, data)
        SELECT u.id, 1, 'run.queued', jsonb_strip_nulls(jsonb_build_object('workflow', workflow, 'version', pinned_number,
                                                         'priority', prio, 'started_by', principal,
                                                         'retry_of', options ->> 'retry_of'))
        FROM unnest(ids) AS u(id)
        RETURNING run_events.run_id
    )
    SELECT count(pg_notify('trellis_events', queued.run_id::text || ':1')) INTO notified FROM queued;

    IF stepwise THEN
        FOREACH run IN ARRAY ids LOOP
            PERFORM trellis.advance_run(run);
        END LOOP;
    END IF;
    RETURN ids;
END;
$fn$;
