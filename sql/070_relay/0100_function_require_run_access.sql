-- Read access for clients of the relay: `principal` needs `privilege` (view to read and
-- subscribe) on the run's workflow. Unknown run: TR404; no privilege: 42501. Returns the
-- run's status, so a subscriber knows whether the stream will end.
CREATE OR REPLACE FUNCTION trellis.require_run_access(run uuid, principal text, privilege text DEFAULT 'view')
RETURNS text
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
    r trellis.workflow_runs;
BEGIN
    SELECT * INTO r FROM trellis.workflow_runs w WHERE w.id = run;
    IF r.id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'TR404', MESSAGE = format('unknown run %s', run);
    END IF;
    PERFORM trellis.require_privilege(trellis.principal_id(principal), r.workflow_id, privilege);
    RETURN r.status;
END;
$fn$;

