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
