-- A schedule as the CLI and the HTTP API show it, with its next three ticks.
CREATE OR REPLACE FUNCTION trellis.schedule_document(s trellis.schedules) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
    upcoming timestamptz[] := '{}';
    t timestamptz := s.next_fire_at;
BEGIN
    WHILE s.enabled AND t IS NOT NULL AND cardinality(upcoming) < 3 LOOP
        upcoming := upcoming || t;
        t := trellis.cron_next(s.cron, s.timezone, t);
    END LOOP;
    RETURN jsonb_build_object(
        'name', s.name, 'workflow', (SELECT w.name FROM trellis.workflows w WHERE w.id = s.workflow_id),
        'cron', s.cron, 'timezone', s.timezone, 'input', s.input, 'enabled', s.enabled,
        'catch_up', s.catch_up, 'catch_up_max', s.catch_up_max, 'next_fire_at', s.next_fire_at,
        'upcoming', to_jsonb(upcoming), 'owner', (SELECT p.name FROM trellis.principals p WHERE p.id = s.owner_id),
        'created_at', s.created_at, 'last_fired_at', s.last_fired_at, 'last_tick', s.last_tick,
        'last_run_id', s.last_run_id, 'fires', s.fires, 'last_error', s.last_error);
END;
$fn$;
