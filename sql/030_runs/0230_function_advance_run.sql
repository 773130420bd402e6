-- Moves a run forward inside SQL until nothing more can happen without a scheduler:
-- pending nodes whose inputs are settled become ready (work nodes, set-based: input
-- resolved, one NOTIFY trellis_ready per handler name) or are decided at once (condition: the
-- predicate over the run data; join: by mode), or are skipped (an input not taken;
-- a join with no taken input). Skips propagate. When no node is left, the run finishes.
CREATE OR REPLACE FUNCTION trellis.advance_run(run uuid) RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
    candidate record;
    progressed boolean;
    data jsonb;
    verdict boolean;
    merged jsonb;
    needed int;
    woken text[];
    paused boolean := (SELECT r.status = 'paused' FROM trellis.workflow_runs r WHERE r.id = run);
BEGIN
    LOOP
        -- Work nodes whose inputs are all settled and taken become ready together, in one
        -- statement, with their input resolved now (so a claim reads one row). While the
        -- run is paused, work that becomes due is held instead. ready_at is the moment
        -- the node became ready, not the start of the transaction that got it there — one
        -- moment for all of them, so their claim order is their definition order (node
        -- run id), not the order this statement happened to visit them in.
        WITH due AS (
            SELECT n.id, n.handler, wn.input AS template, position('"$' IN wn.input::text) > 0 AS binds
            FROM trellis.node_runs n
            JOIN trellis.workflow_nodes wn ON wn.id = n.node_id
            WHERE n.run_id = run AND n.status = 'pending' AND n.parent_id IS NULL AND n.remaining_deps = 0
              AND n.taken_deps >= wn.upstream_count AND n.kind IN ('agent_call', 'tool_call')
            FOR UPDATE OF n
        ), bound AS (
            SELECT CASE WHEN bool_or(due.binds) THEN trellis.run_data(run) END AS data, clock_timestamp() AS at FROM due
        ), made AS (
            UPDATE trellis.node_runs n
            SET status = CASE WHEN paused THEN 'held' ELSE 'ready' END, ready_at = bound.at,
                input = CASE WHEN due.binds THEN trellis.resolve_bindings(due.template, bound.data) ELSE due.template END
            FROM due, bound WHERE n.id = due.id
            RETURNING n.handler
        )
        SELECT array_agg(DISTINCT made.handler) INTO woken FROM made;
        IF woken IS NOT NULL AND NOT paused THEN
            PERFORM pg_notify('trellis_ready', h) FROM unnest(woken) AS h;
        END IF;
        -- Control nodes and skips; settling one changes the run data and dependents, so
        -- the pass repeats until nothing moves (readiness alone unblocks nothing).
        progressed := false;
        data := NULL;
        FOR candidate IN
            SELECT n.id, n.kind, n.handler, n.remaining_deps, n.taken_deps, wn.upstream_count, wn.join_mode,
                   wn.join_n, wn.input AS template, wn.config, wn.id AS node_id
            FROM trellis.node_runs n
            JOIN trellis.workflow_nodes wn ON wn.id = n.node_id
            WHERE n.run_id = run AND n.status = 'pending' AND n.parent_id IS NULL
              AND (n.remaining_deps = 0
                   OR (wn.join_mode = 'any' AND n.taken_deps >= 1)
                   OR (wn.join_mode = 'n' AND n.taken_deps >= wn.join_n))
            ORDER BY n.id
            FOR UPDATE OF n
        LOOP
            progressed := true;
            IF candidate.kind = 'join' THEN
                needed := CASE candidate.join_mode WHEN 'n' THEN candidate.join_n ELSE 1 END;
                IF candidate.taken_deps >= needed THEN
                    SELECT coalesce(jsonb_object_agg(u.node_key, u.output), '{}'::jsonb) INTO merged
                    FROM trellis.workflow_edges e
                    JOIN trellis.node_runs u ON u.run_id = run AND u.node_id = e.from_node_id AND u.parent_id IS NULL
                    WHERE e.to_node_id = candidate.node_id AND u.status IN ('succeeded', 'failed') AND u.output IS NOT NULL;
                    PERFORM trellis.settle_node(candidate.id, 'succeeded', merged, NULL);
                ELSE
                    PERFORM trellis.settle_node(candidate.id, 'skipped', NULL, NULL);
                END IF;
            ELSIF candidate.taken_deps < candidate.upstream_count THEN
                PERFORM trellis.settle_node(candidate.id, 'skipped', NULL, NULL);
            ELSIF candidate.kind = 'condition' THEN
                IF candidate.config ? 'predicate' THEN
                    data := coalesce(data, trellis.condition_data(run));
                    verdict := coalesce(jsonb_path_match(data, (candidate.config ->> 'predicate')::jsonpath, '{}', true), false);
                ELSE
                    verdict := true;
                END IF;
                PERFORM trellis.settle_node(candidate.id, 'succeeded', jsonb_build_object('result', verdict), NULL);
            ELSIF candidate.kind = 'human_gate' THEN
                PERFORM trellis.open_approval(candidate.id);
            ELSIF candidate.kind = 'parallel' THEN
                PERFORM trellis.start_parallel(candidate.id);
            END IF;
            -- Settling changes the run data and dependents: rescan.
            IF candidate.kind IN ('join', 'condition', 'parallel') OR candidate.taken_deps < candidate.upstream_count THEN
                EXIT;
            END IF;
        END LOOP;
        EXIT WHEN NOT progressed;
    END LOOP;
    IF (SELECT nodes_remaining = 0 AND finished_at IS NULL FROM trellis.workflow_runs WHERE id = run) THEN
        PERFORM trellis.finish_run(run);
    END IF;
END;
$fn$;
