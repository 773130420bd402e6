-- A schedule by name, locked, for an operation by `principal` that needs `privilege` on
-- its workflow. Unknown: TR404; not allowed: 42501.
CREATE OR REPLACE FUNCTION trellis.lock_schedule(schedule text, principal text, privilege text) RETURNS trellis.schedules
LANGUAGE plpgsql AS $fn$
DECLARE
    actor_id bigint := trellis.principal_id(principal);
    s trellis.schedules;
BEGIN
    SELECT * INTO s FROM trellis.schedules x WHERE x.name = schedule FOR UPDATE;
    IF s.id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'TR404', MESSAGE = format('unknown schedule "%s"', schedule),
            HINT = 'list them with `trellis schedule list`';
    END IF;
    PERFORM trellis.require_privilege(actor_id, s.workflow_id, privilege);
    RETURN s;
END;
$fn$;
