-- Creates a schedule: runs of `workflow` (its latest version at each tick) with `input`,
-- started as `principal` — who needs `run` on the workflow, now and at every fire — at
-- the ticks of `cron` in time zone `tz`. `catch_up` says what happens to ticks missed
-- while no scheduler ran: skip, one (the latest) or all (the latest `catch_up_max`).
-- Bad cron, zone, input or policy: 22023/54000, naming it; a name in use: TR409.
CREATE OR REPLACE FUNCTION trellis.create_schedule(name text, workflow text, cron text, tz text DEFAULT 'UTC',
                                                   input jsonb DEFAULT '{}', catch_up text DEFAULT 'one',
                                                   catch_up_max integer DEFAULT 10, principal text DEFAULT 'admin')
RETURNS jsonb
LANGUAGE plpgsql AS $fn$
DECLARE
    actor_id bigint := trellis.principal_id(principal);
    wf_id bigint := trellis.workflow_id(workflow);
    first_tick timestamptz;
    created trellis.schedules;
BEGIN
    PERFORM trellis.require_privilege(actor_id, wf_id, 'run');
    IF name IS NULL OR name !~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$' THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('schedule name "%s" must be 1-128 letters, digits, ".", "_" or "-", starting with a letter or digit', name);
    END IF;
    input := coalesce(input, '{}');
    PERFORM trellis.check_run_inputs(ARRAY[input]);
    IF catch_up IS NULL OR catch_up NOT IN ('skip', 'one', 'all') THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('catch_up must be skip, one or all, got "%s"', catch_up);
    END IF;
    IF catch_up_max IS NULL OR catch_up_max NOT BETWEEN 1 AND 1000 THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('catch_up_max must be 1 to 1000, got %s', catch_up_max);
    END IF;
    first_tick := trellis.cron_next(cron, coalesce(tz, 'UTC'), now());
    IF first_tick IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('cron expression "%s" never fires', cron);
    END IF;
    IF EXISTS (SELECT 1 FROM trellis.schedules s WHERE s.name = create_schedule.name) THEN
        RAISE EXCEPTION USING ERRCODE = 'TR409', MESSAGE = format('schedule "%s" already exists', create_schedule.name);
    END IF;
    INSERT INTO trellis.schedules (name, workflow_id, cron, timezone, input, catch_up, catch_up_max, next_fire_at, owner_id)
    VALUES (create_schedule.name, wf_id, btrim(cron), coalesce(tz, 'UTC'), input, create_schedule.catch_up,
            create_schedule.catch_up_max, first_tick, actor_id)
    RETURNING * INTO created;
    RETURN trellis.schedule_document(created);
END;
$fn$;
