-- What happens to a running node run whose attempt failed (reported, timed out, or its
-- lease lost): the attempt is closed with `attempt_outcome`; with attempts left and a
-- retryable error the node is ready again after the backoff (or the error's
-- retry_after_ms, when longer); otherwise on_error decides
-- (`continue`: settled as failed with {"error": …} as output; `fail`: the run fails).
-- Attempts that ended asking for input (input_required) do not count against
-- max_attempts; `attempt_outcome` NULL leaves the attempt row as it is (it was closed
-- already). Returns retry_scheduled, continued or failed_run. The caller holds the row
-- lock and advances the run afterwards.
CREATE OR REPLACE FUNCTION trellis.apply_failure(node_run_id bigint, failure jsonb, retryable boolean, attempt_outcome text)
RETURNS text
LANGUAGE plpgsql AS $fn$
DECLARE
    nr trellis.node_runs;
    wn trellis.workflow_nodes;
    delay bigint;
    failed_attempts int;
BEGIN
    SELECT * INTO nr FROM trellis.node_runs n WHERE n.id = node_run_id;
    SELECT * INTO wn FROM trellis.workflow_nodes w WHERE w.id = nr.node_id;
    IF attempt_outcome IS NOT NULL THEN
        UPDATE trellis.node_attempts a SET outcome = attempt_outcome, error = failure, finished_at = now()
        WHERE a.node_run_id = nr.id AND a.attempt = nr.attempt;
    END IF;
    IF retryable THEN
        IF nr.resume IS NOT NULL THEN
            failed_attempts := nr.attempt - (SELECT count(*) FROM trellis.node_attempts a
                                             WHERE a.node_run_id = nr.id AND a.outcome = 'input_required');
        ELSE
            failed_attempts := nr.attempt;
        END IF;
    END IF;
    IF retryable AND failed_attempts < nr.max_attempts THEN
        delay := trellis.retry_delay_ms(failed_attempts, wn.retry_initial_delay_ms, wn.retry_multiplier, wn.retry_max_delay_ms, wn.retry_jitter);
        -- A server's Retry-After (reported as error.retry_after_ms) is honoured, up to an hour.
        IF jsonb_typeof(failure -> 'retry_after_ms') = 'number' THEN
            delay := greatest(delay, least((failure ->> 'retry_after_ms')::numeric, 3600000)::bigint);
        END IF;
        UPDATE trellis.node_runs
        SET status = trellis.ready_status(nr.run_id),
            ready_at = now() + delay * interval '1 millisecond', lease_expires_at = NULL,
            scheduler_id = NULL, error = failure
        WHERE id = nr.id;
        PERFORM trellis.append_event(nr.run_id, 'node.retry_scheduled', jsonb_build_object(
            'node_key', nr.node_key, 'attempt', nr.attempt, 'error', failure,
            'next_attempt_at', now() + delay * interval '1 millisecond', 'delay_ms', delay));
        PERFORM pg_notify('trellis_ready', nr.handler);
        RETURN 'retry_scheduled';
    ELSIF nr.parent_id IS NOT NULL THEN
        -- An item of a parallel node: with on_error = continue its error becomes its
        -- result; otherwise it fails the parallel node (settle_child decides).
        IF wn.on_error = 'continue' THEN
            PERFORM trellis.settle_child(nr.id, 'failed', jsonb_build_object('error', failure), failure);
            RETURN 'continued';
        END IF;
        PERFORM trellis.settle_child(nr.id, 'failed', NULL, failure);
        RETURN CASE WHEN (SELECT r.failed_node IS NOT NULL FROM trellis.workflow_runs r WHERE r.id = nr.run_id)
                    THEN 'failed_run' ELSE 'continued' END;
    END IF;
    RETURN trellis.settle_failed(nr.id, failure);
END;
$fn$;
