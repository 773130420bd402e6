-- The schedules on workflows `principal` may view, by name.
CREATE OR REPLACE FUNCTION trellis.list_schedules(principal text) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
    who bigint := trellis.principal_id(principal);
BEGIN
    RETURN (SELECT coalesce(jsonb_agg(trellis.schedule_document(s) ORDER BY s.name), '[]'::jsonb)
            FROM trellis.schedules s WHERE trellis.holds_privilege(who, s.workflow_id, 'view'));
END;
$fn$;
