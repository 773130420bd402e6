-- Reports successful results in a batch: [{"id", "attempt", "output", "cost"}].
-- A result is applied only when its node run is still running with that attempt (the
-- fencing token); anything else — a lease lost and reclaimed, a cancelled run, a
-- duplicate delivery — is refused and reported, never applied. Accepted nodes settle,
-- their runs advance (dependents become ready), and finished runs finish.
CREATE OR REPLACE FUNCTION trellis.complete_nodes(scheduler bigint, results jsonb)
RETURNS TABLE (node_run_id bigint, accepted boolean, reason text)
LANGUAGE plpgsql AS $fn$
DECLARE
    item record;
    nr trellis.node_runs;
    runs uuid[] := '{}';
    touched uuid;
BEGIN
    IF jsonb_typeof(results) IS DISTINCT FROM 'array' THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'results must be a JSON array of {id, attempt, output, cost}';
    END IF;
    FOR item IN
        SELECT (e ->> 'id')::bigint AS id, (e ->> 'attempt')::int AS attempt, e -> 'output' AS output,
               coalesce((e ->> 'cost')::numeric, 0) AS cost, n.run_id
        FROM jsonb_array_elements(results) AS e
        LEFT JOIN trellis.node_runs n ON n.id = (e ->> 'id')::bigint
        ORDER BY n.run_id, (e ->> 'id')::bigint
    LOOP
        node_run_id := item.id;
        SELECT * INTO nr FROM trellis.node_runs n WHERE n.id = item.id FOR UPDATE;
        reason := trellis.stale_result_reason(nr, item.attempt, scheduler);
        IF reason IS NOT NULL THEN
            accepted := false;
        ELSE
            UPDATE trellis.node_attempts SET outcome = 'succeeded', finished_at = now(), cost = item.cost
            WHERE node_attempts.node_run_id = nr.id AND node_attempts.attempt = nr.attempt;
            UPDATE trellis.node_runs SET cost = cost + item.cost WHERE id = nr.id;
            IF nr.parent_id IS NULL THEN
                PERFORM trellis.settle_node(nr.id, 'succeeded', coalesce(item.output, 'null'::jsonb), NULL);
            ELSE
                PERFORM trellis.settle_child(nr.id, 'succeeded', coalesce(item.output, 'null'::jsonb), NULL);
            END IF;
            IF NOT nr.run_id = ANY (runs) THEN runs := runs || nr.run_id; END IF;
            accepted := true;
        END IF;
        RETURN NEXT;
        nr := NULL;
    END LOOP;
    FOREACH touched IN ARRAY runs LOOP
        PERFORM trellis.advance_run(touched);
    END LOOP;
END;
$fn$;
