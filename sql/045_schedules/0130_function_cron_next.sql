-- The first tick of a cron expression strictly after `after`, with the fields read as
-- wall-clock time in time zone `tz` (an IANA name such as Europe/Berlin; PostgreSQL
-- refuses an unknown one with 22023).
-- Day of month and day of week follow cron: when both are restricted a day matching
-- either counts. Daylight-saving changes follow PostgreSQL's reading of local times: a
-- wall time that occurs twice (the autumn hour) fires once, at its second occurrence
-- (standard time); a wall time that does not exist (the spring gap) fires at the same wall
-- time plus the gap (02:30 → 03:30). NULL when no day in the next eight years matches
-- (such as 30 February). A pure function of its arguments and the time zone database.
CREATE OR REPLACE FUNCTION trellis.cron_next(expr text, tz text, after timestamptz) RETURNS timestamptz
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
BEGIN
    wall := date_trunc('second', after AT TIME ZONE tz);
    on_day := wall::date;
    lh := extract(hour FROM wall);
    lm := extract(minute FROM wall);
    ls := extract(second FROM wall);
    FOR i IN 0 .. 366 * 8 LOOP
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
                        IF found_at > after THEN
                            RETURN found_at;
                        END IF;
                    END LOOP;
                END LOOP;
            END LOOP;
        END IF;
        first_day := false;
        on_day := on_day + 1;
    END LOOP;
    RETURN NULL;
END;
$fn$;
