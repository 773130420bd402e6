-- A cron expression as its six fields (second minute hour day-of-month month day-of-week):
-- five fields mean second 0; the macros @yearly (@annually), @monthly, @weekly, @daily
-- (@midnight) and @hourly stand for their usual five fields. Anything else: 22023.
CREATE OR REPLACE FUNCTION trellis.cron_fields(expr text) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE AS $fn$
DECLARE
    normalised text := lower(btrim(coalesce(expr, '')));
    fields text[];
BEGIN
    normalised := CASE normalised
        WHEN '@yearly' THEN '0 0 1 1 *' WHEN '@annually' THEN '0 0 1 1 *'
        WHEN '@monthly' THEN '0 0 1 * *' WHEN '@weekly' THEN '0 0 * * 0'
        WHEN '@daily' THEN '0 0 * * *' WHEN '@midnight' THEN '0 0 * * *'
        WHEN '@hourly' THEN '0 * * * *' ELSE normalised END;
    fields := regexp_split_to_array(normalised, '\s+');
    IF cardinality(fields) = 5 THEN
        fields := '0'::text || fields;
    ELSIF cardinality(fields) <> 6 THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('cron expression "%s" must have 5 fields (minute hour day month weekday), 6 (with seconds first) or be a macro such as @daily', expr);
    END IF;
    RETURN fields;
END;
$fn$;
