-- The first tick of a cron expression strictly after `after` in time zone `tz`
-- (trellis.cron_ticks has the rules); NULL when none comes within eight years.
CREATE OR REPLACE FUNCTION trellis.cron_next(expr text, tz text, after timestamptz) RETURNS timestamptz
LANGUAGE sql STABLE AS $fn$
    SELECT t FROM trellis.cron_ticks(expr, tz, after, after, 1) AS t
$fn$;
