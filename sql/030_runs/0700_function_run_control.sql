-- Locks a run for a control operation by `principal`, who needs `run` on its workflow
-- (admin implies it). Unknown run: TR404. A finished run: TR409 (the relay answers 409).
CREATE OR REPLACE FUNCTION trellis.lock_run_for_control(run uuid, principal text, operation text)
RETURNS trellis.workflow_runs
LANGUAGE plpgsql AS $fn$
DECLARE
    actor_id bigint := trellis.principal_id(principal);
    r trellis.workflow_runs;
BEGIN
    SELECT * INTO r FROM trellis.workflow_runs w WHERE w.id = run FOR UPDATE;
    IF r.id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'TR404', MESSAGE = format('unknown run %s', run);
    END IF;
    PERFORM trellis.require_privilege(actor_id, r.workflow_id, 'run');
    IF r.finished_at IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'TR409',
            MESSAGE = format('cannot %s run %s: it already %s', operation, run, r.status);
    END IF;
    RETURN r;
END;
$fn$;

-- Cancels a run: every open node is cancelled at once (running handlers are told and
-- their late results refused) and the run finishes `cancelled`.
CREATE OR REPLACE FUNCTION trellis.cancel_run(run uuid, principal text DEFAULT 'admin', reason text DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql AS $fn$
BEGIN
    PERFORM trellis.lock_run_for_control(run, principal, 'cancel');
    UPDATE trellis.workflow_runs
    SET cancel_requested_at = now(),
        error = jsonb_strip_nulls(jsonb_build_object('code', 'cancelled', 'message', coalesce(reason, 'cancelled'), 'by', principal))
    WHERE id = run;
    PERFORM trellis.cancel_open_nodes(run);
    PERFORM trellis.finish_run(run);
    RETURN 'cancelled';
END;
$fn$;

-- Pauses a run: ready nodes are held (not claimable), running ones finish, and work that
-- becomes due meanwhile is held too. Pausing a paused run is TR409.
CREATE OR REPLACE FUNCTION trellis.pause_run(run uuid, principal text DEFAULT 'admin', reason text DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql AS $fn$
DECLARE
    r trellis.workflow_runs := trellis.lock_run_for_control(run, principal, 'pause');
BEGIN
    IF r.status = 'paused' THEN
        RAISE EXCEPTION USING ERRCODE = 'TR409', MESSAGE = format('run %s is already paused', run);
    END IF;
    UPDATE trellis.workflow_runs SET status = 'paused' WHERE id = run;
    UPDATE trellis.node_runs SET status = 'held' WHERE run_id = run AND status = 'ready';
    PERFORM trellis.append_event(run, 'run.paused', jsonb_strip_nulls(jsonb_build_object('by', principal, 'reason', reason)));
    RETURN 'paused';
END;
$fn$;

-- Resumes a paused run: held nodes are ready again (a retry keeps its ready_at) and the
-- schedulers are rung. Resuming a run that is not paused is TR409.
CREATE OR REPLACE FUNCTION trellis.resume_run(run uuid, principal text DEFAULT 'admin', reason text DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql AS $fn$
DECLARE
    r trellis.workflow_runs := trellis.lock_run_for_control(run, principal, 'resume');
    resumed_status text;
    handler_name text;
BEGIN
    IF r.status <> 'paused' THEN
        RAISE EXCEPTION USING ERRCODE = 'TR409', MESSAGE = format('run %s is not paused (it is %s)', run, r.status);
    END IF;
    -- A run paused at a gate goes back to waiting on it, not to running.
    resumed_status := CASE WHEN r.started_at IS NULL THEN 'queued'
                           WHEN EXISTS (SELECT 1 FROM trellis.approvals a WHERE a.run_id = run AND a.status = 'pending') THEN 'waiting'
                           ELSE 'running' END;
    UPDATE trellis.workflow_runs SET status = resumed_status WHERE id = run;
    FOR handler_name IN
        UPDATE trellis.node_runs SET status = 'ready' WHERE run_id = run AND status = 'held' RETURNING handler
    LOOP
        PERFORM pg_notify('trellis_ready', handler_name);
    END LOOP;
    PERFORM trellis.append_event(run, 'run.resumed', jsonb_strip_nulls(jsonb_build_object('by', principal, 'reason', reason)));
    RETURN resumed_status;
END;
$fn$;
