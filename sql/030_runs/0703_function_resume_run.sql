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
