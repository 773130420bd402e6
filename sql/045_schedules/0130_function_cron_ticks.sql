-- The ticks of a cron expression after `after`, in order, with the fields read as
-- wall-clock time in time zone `tz` (an IANA name such as Europe/Berlin; PostgreSQL
-- refuses an unknown one with 22023): every tick up to `until`, then the first one past
-- it, at most `max_ticks` in all. The expression is parsed once for the whole walk (a
-- schedule catching up on a day of seconds walks 86,400 ticks in one call).
-- Day of month and day of week follow cron: when both are restricted a day matching
-- either counts. Daylight-saving changes follow PostgreSQL's reading of local times: a
-- wall time that occurs twice (the autumn hour) fires once, at its second occurrence
-- (standard time); a wall time that does not exist (the spring gap) fires at the same wall
-- time plus the gap (02:30 → 03:30). The walk ends after eight years without a match
-- (such as 30 February). A pure function of its arguments and the time zone database.
CREATE OR REPLACE FUNCTION trellis.cron_ticks(expr text, tz text, after timestamptz, until timestamptz, max_ticks integer)
RETURNS SETOF timestamptz
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
    f text[] := trellis.cron_fields(expr);
    secs integer[] := trellis.cron_field(f[1], 0, 59, NULL, 'second');
    mins integer[] := trellis.cron_field(f[2], 0, 59, NULL, 'minute');
    hrs integer[] := trellis.cron_field(f[3], 0, 23, NULL, 'hour');
    doms integer[] := trellis.cron_field(f[4], 1, 31, NULL, 'day of month');
    mons integer[] := trellis.cron_field(f[5], 1, 12, ARRAY['jan','feb','mar','apr','may','jun','jul','aug','sep','oct','nov','dec'], 'month');
    dows integer[] := ARRAY(SELECT DISTINCT d % 7 FROM unnest(trellis.cron_field(f[6], 0, 7, ARRAY['sun','mon','tue','wed','thu','fri','sat'], 'day of week')) AS d ORDER BY 1);
    dom_any boolean := f[4] = '*';
    dow_any boolean := f[6] = '*';
    wall timestamp;
    on_day date;
    first_day boolean := true;
    lh integer;
    lm integer;
    ls integer;
    h integer;
    mi integer;
    s integer;
    found_at timestamptz;
    last_at timestamptz := after;
    emitted integer := 0;
    idle_days integer := 0;
BEGIN
    wall := date_trunc('second', after AT TIME ZONE tz);
    on_day := wall::date;
    lh := extract(hour FROM wall);
    lm := extract(minute FROM wall);
    ls := extract(second FROM wall);
    WHILE idle_days <= 366 * 8 LOOP
        idle_days := idle_days + 1;
        IF extract(month FROM on_day)::integer = ANY (mons)
           AND (CASE WHEN dom_any AND dow_any THEN true
                     WHEN dom_any THEN extract(dow FROM on_day)::integer = ANY (dows)
                     WHEN dow_any THEN extract(day FROM on_day)::integer = ANY (doms)
                     ELSE extract(day FROM on_day)::integer = ANY (doms) OR extract(dow FROM on_day)::integer = ANY (dows) END) THEN
            FOREACH h IN ARRAY hrs LOOP
                CONTINUE WHEN first_day AND h < lh;
                FOREACH mi IN ARRAY mins LOOP
                    CONTINUE WHEN first_day AND h = lh AND mi < lm;
                    FOREACH s IN ARRAY secs LOOP
                        CONTINUE WHEN first_day AND h = lh AND mi = lm AND s <= ls;
                        found_at := (on_day + make_time(h, mi, s)) AT TIME ZONE tz;
                        -- Strictly increasing: a repeated wall time maps to one instant.
                        CONTINUE WHEN found_at <= last_at;
                        RETURN NEXT found_at;
                        last_at := found_at;
                        idle_days := 0;
                        emitted := emitted + 1;
                        IF found_at > until OR emitted >= max_ticks THEN
                            RETURN;
                        END IF;
                    END LOOP;
                END LOOP;
            END LOOP;
        END IF;
        first_day := false;
        on_day := on_day + 1;
    END LOOP;
END;
$fn$;
