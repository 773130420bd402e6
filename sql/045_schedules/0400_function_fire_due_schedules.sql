-- Fires the schedules that are due, at most `max_schedules` of them: called by every
-- scheduler instance, each schedule claimed with SKIP LOCKED so one instance fires it,
-- and each run started with the idempotency key schedule:<id>:<tick> so a tick can never
-- make two runs. The ticks due since the last fire (looking back at most a day) are run
-- by the schedule's catch-up policy — skip: those at most trellis.schedule_grace_seconds
-- (60) late, or one period of the schedule when that is shorter; one: the latest; all:
-- the latest catch_up_max — each as its owner, who
-- needs `run` on the workflow then (a refusal is recorded in last_error and the schedule
-- moves on). Runs carry schedule_id, scheduled_for and context.schedule {name, tick}.
-- Returns how many runs started and when the next schedule is due (for the caller's wait).
CREATE OR REPLACE FUNCTION trellis.fire_due_schedules(max_schedules integer DEFAULT 10)
RETURNS TABLE (fired integer, next_due timestamptz)
LANGUAGE plpgsql
-- One of the functions trellis_scheduler may call (sql/090_grants): runs with the owner's rights.
SECURITY DEFINER SET search_path = pg_catalog, trellis, pg_temp SET jit = off AS $fn$
DECLARE
    s trellis.schedules;
    t timestamptz;
    due timestamptz[];
    chosen timestamptz[];
    tick timestamptz;
    started uuid[];
    pinned_id bigint;
    pinned_number integer;
    last_started uuid;
    problem text;
    count_fired integer := 0;
    fired_here integer;
    workflow text;
    owner text;
    grace interval := make_interval(secs => trellis.setting('schedule_grace_seconds', 60));
    late interval;
    ticks timestamptz[];
BEGIN
    FOR s IN
        SELECT * FROM trellis.schedules x WHERE x.enabled AND x.next_fire_at <= now()
        ORDER BY x.next_fire_at LIMIT greatest(coalesce(max_schedules, 10), 1)
        FOR UPDATE SKIP LOCKED
    LOOP
        -- Every tick from the last fire (looking back at most a day) to now, then the next
        -- one, in one walk that parses the expression once; only the latest 1,000 due
        -- ticks are kept (no policy runs more).
        IF s.next_fire_at >= now() - interval '1 day' THEN
            ticks := s.next_fire_at || ARRAY(SELECT trellis.cron_ticks(s.cron, s.timezone, s.next_fire_at, now(), 100000));
        ELSE
            ticks := ARRAY(SELECT trellis.cron_ticks(s.cron, s.timezone, now() - interval '1 day', now(), 100000));
        END IF;
        IF cardinality(ticks) > 0 AND ticks[cardinality(ticks)] > now() THEN
            t := ticks[cardinality(ticks)];
            due := ticks[1:cardinality(ticks) - 1];
        ELSE
            t := trellis.cron_next(s.cron, s.timezone, now());
            due := ticks;
        END IF;
        due := due[greatest(cardinality(due) - 999, 1):cardinality(due)];
        -- Late means later than the grace, or than one period of the schedule when that is
        -- shorter (an every-second schedule has missed a tick after a second).
        late := least(grace, coalesce(t - due[cardinality(due)], grace));
        chosen := CASE s.catch_up
            WHEN 'skip' THEN ARRAY(SELECT d FROM unnest(due) AS d WHERE d >= now() - late ORDER BY d)
            WHEN 'one' THEN due[cardinality(due):cardinality(due)]
            ELSE due[greatest(cardinality(due) - s.catch_up_max + 1, 1):cardinality(due)] END;
        problem := NULL;
        fired_here := 0;
        last_started := s.last_run_id;
        SELECT w.name INTO workflow FROM trellis.workflows w WHERE w.id = s.workflow_id;
        SELECT p.name INTO owner FROM trellis.principals p WHERE p.id = s.owner_id;
        FOREACH tick IN ARRAY chosen LOOP
            BEGIN
                PERFORM trellis.principal_id(owner);  -- a disabled owner fires nothing
                PERFORM trellis.require_privilege(s.owner_id, s.workflow_id, 'run');
                SELECT p.version_id, p.version_number INTO pinned_id, pinned_number
                FROM trellis.pinned_version(workflow, s.workflow_id, '{}') p;
                started := trellis.create_runs(
                    s.workflow_id, workflow, pinned_id, pinned_number, s.owner_id, owner,
                    ARRAY[s.input],
                    jsonb_build_object('idempotency_key', format('schedule:%s:%s', s.id, extract(epoch FROM tick)::bigint),
                                       'context', jsonb_build_object('schedule', jsonb_build_object('name', s.name, 'tick', tick)),
                                       'schedule_id', s.id, 'scheduled_for', tick));
                IF cardinality(started) > 0 THEN
                    count_fired := count_fired + 1;
                    fired_here := fired_here + 1;
                    last_started := started[1];
                END IF;
            EXCEPTION WHEN OTHERS THEN
                problem := format('tick %s: %s (SQLSTATE %s)', tick, SQLERRM, SQLSTATE);
            END;
        END LOOP;
        UPDATE trellis.schedules x
        SET next_fire_at = t, enabled = t IS NOT NULL,
            last_fired_at = CASE WHEN cardinality(chosen) > 0 THEN now() ELSE x.last_fired_at END,
            last_tick = coalesce(chosen[cardinality(chosen)], x.last_tick),
            last_run_id = last_started,
            fires = x.fires + fired_here,
            last_error = problem
        WHERE x.id = s.id;
    END LOOP;
    RETURN QUERY SELECT count_fired, (SELECT min(x.next_fire_at) FROM trellis.schedules x WHERE x.enabled);
END;
$fn$;
