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
