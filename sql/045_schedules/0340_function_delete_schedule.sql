-- Deletes a schedule; needs `run` on its workflow. The runs it started stay in history
-- (their schedule_id names it no more).
CREATE OR REPLACE FUNCTION trellis.delete_schedule(schedule text, principal text) RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
    s trellis.schedules := trellis.lock_schedule(schedule, principal, 'run');
BEGIN
    DELETE FROM trellis.schedules x WHERE x.id = s.id;
END;
$fn$;
