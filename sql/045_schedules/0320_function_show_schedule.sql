-- One schedule (`view` on its workflow) with its last ten fires, newest first.
CREATE OR REPLACE FUNCTION trellis.show_schedule(schedule text, principal text) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
    who bigint := trellis.principal_id(principal);
    s trellis.schedules;
BEGIN
    SELECT * INTO s FROM trellis.schedules x WHERE x.name = schedule;
    IF s.id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'TR404', MESSAGE = format('unknown schedule "%s"', schedule),
            HINT = 'list them with `trellis schedule list`';
    END IF;
    PERFORM trellis.require_privilege(who, s.workflow_id, 'view');
    RETURN trellis.schedule_document(s) || jsonb_build_object('recent_fires', (
        SELECT coalesce(jsonb_agg(jsonb_build_object('tick', r.scheduled_for, 'run_id', r.id, 'status', r.status)
                                  ORDER BY r.scheduled_for DESC), '[]'::jsonb)
        FROM (SELECT * FROM trellis.workflow_runs r WHERE r.schedule_id = s.id ORDER BY r.scheduled_for DESC LIMIT 10) r));
END;
$fn$;
