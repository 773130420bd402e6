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
