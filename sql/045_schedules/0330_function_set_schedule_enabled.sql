-- Pauses (false) or resumes (true) a schedule; needs `run` on its workflow. Ticks that
-- fall in a pause are not caught up: a resumed schedule fires from its next tick on.
CREATE OR REPLACE FUNCTION trellis.set_schedule_enabled(schedule text, enabled boolean, principal text) RETURNS jsonb
LANGUAGE plpgsql AS $fn$
DECLARE
    s trellis.schedules := trellis.lock_schedule(schedule, principal, 'run');
    next_tick timestamptz := CASE WHEN enabled THEN trellis.cron_next(s.cron, s.timezone, now()) END;
BEGIN
    UPDATE trellis.schedules x
    SET enabled = coalesce(set_schedule_enabled.enabled, false) AND next_tick IS NOT NULL, next_fire_at = next_tick
    WHERE x.id = s.id
    RETURNING * INTO s;
    RETURN trellis.schedule_document(s);
END;
$fn$;
