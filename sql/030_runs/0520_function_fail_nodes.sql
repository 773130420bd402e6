-- Reports failures in a batch: [{"id", "attempt", "error": {"code", "message"},
-- "retryable": bool (default true), "cost"}]. Fenced like complete_nodes. With attempts
-- left and a retryable error the node is ready again after the backoff (ready_at in the
-- future, node.retry_scheduled); otherwise on_error decides: `continue` settles it as
-- failed with {"error": …} as output and the run goes on; `fail` fails the run.
-- A failure with "input_request": {"prompt", "resume"} is a handler asking a person
-- (the a2a handler's input-required): the attempt ends `input_required` and the node
-- waits on an approval of kind `input` (open_approval); `resume` is kept for its next
-- attempt, which gets the answer too.
-- outcome: retry_scheduled | continued | failed_run | waiting | refused.
CREATE OR REPLACE FUNCTION trellis.fail_nodes(scheduler bigint, failures jsonb)
RETURNS TABLE (node_run_id bigint, accepted boolean, outcome text, reason text)
LANGUAGE plpgsql
-- One of the functions trellis_scheduler may call (sql/090_grants): runs with the owner's rights.
-- Generic plans, made once per session: with a planner method off, a generic plan carries
-- the method's cost penalty wherever a custom plan can avoid it, so PostgreSQL judged it
-- dearer after the five custom plans and planned afresh on every call.
SECURITY DEFINER SET search_path = pg_catalog, trellis, pg_temp SET enable_seqscan = off SET jit = off
SET plan_cache_mode = force_generic_plan AS $fn$
DECLARE
    item record;
    nr trellis.node_runs;
    failure jsonb;
    runs uuid[] := '{}';
    touched uuid;
BEGIN
    PERFORM trellis.require_report(scheduler, failures, 'failures must be a JSON array of {id, attempt, error, retryable, cost}');
    PERFORM trellis.lock_runs_of_items(failures);  -- runs before nodes
    FOR item IN
        SELECT (e ->> 'id')::bigint AS id, (e ->> 'attempt')::int AS attempt,
               coalesce(e -> 'error', '{"message": "handler failed"}'::jsonb) AS error,
               coalesce((e ->> 'retryable')::boolean, true) AS retryable,
               coalesce((e ->> 'cost')::numeric, 0) AS cost,
               CASE WHEN jsonb_typeof(e -> 'input_request') = 'object' THEN e -> 'input_request' END AS input_request
        FROM jsonb_array_elements(failures) AS e
        -- A lookup per item (OFFSET 0: never a join the planner could drive from node_runs;
        -- a plan made on a near-empty table read all of it on every later call).
        LEFT JOIN LATERAL (SELECT n.run_id FROM trellis.node_runs n WHERE n.id = (e ->> 'id')::bigint OFFSET 0) n ON true
        ORDER BY n.run_id, (e ->> 'id')::bigint
    LOOP
        node_run_id := item.id;
        SELECT * INTO nr FROM trellis.node_runs n WHERE n.id = item.id FOR UPDATE;
        reason := trellis.stale_result_reason(nr.id, nr.status, nr.attempt, nr.scheduler_id, item.attempt, scheduler);
        IF reason IS NOT NULL THEN
            accepted := false; outcome := 'refused';
            RETURN NEXT;
            nr := NULL;
            CONTINUE;
        END IF;
        failure := CASE WHEN jsonb_typeof(item.error) = 'object' THEN item.error ELSE jsonb_build_object('message', item.error) END;
        IF pg_column_size(failure) > 65536 THEN
            -- An error is a diagnosis, not a payload: keep its code and the start of its message.
            failure := jsonb_build_object('code', left(failure ->> 'code', 200), 'message', left(failure ->> 'message', 8192),
                                          'truncated', true);
        END IF;
        UPDATE trellis.node_runs SET cost = cost + item.cost WHERE id = nr.id;
        UPDATE trellis.node_attempts a SET cost = item.cost WHERE a.node_run_id = nr.id AND a.attempt = nr.attempt;
        IF item.input_request IS NOT NULL THEN
            UPDATE trellis.node_attempts a SET outcome = 'input_required', error = failure, finished_at = now()
            WHERE a.node_run_id = nr.id AND a.attempt = nr.attempt;
            UPDATE trellis.node_runs SET resume = coalesce(item.input_request -> 'resume', '{}'::jsonb) WHERE id = nr.id;
            PERFORM trellis.open_approval(nr.id, 'input', left(coalesce(item.input_request ->> 'prompt', failure ->> 'message', ''), 8192));
            outcome := 'waiting';
        ELSE
            outcome := trellis.apply_failure(nr.id, failure, item.retryable,
                                             CASE WHEN failure ->> 'code' = 'timeout' THEN 'timed_out' ELSE 'failed' END);
        END IF;
        IF NOT nr.run_id = ANY (runs) THEN runs := runs || nr.run_id; END IF;
        accepted := true; reason := NULL;
        RETURN NEXT;
    END LOOP;
    FOREACH touched IN ARRAY runs LOOP
        PERFORM trellis.advance_run(touched);
    END LOOP;
END;
$fn$;
