-- One value of a cron field: a number within lo..hi, or a name from `names` (jan…dec,
-- sun…sat), which count from lo. Anything else: 22023 naming the field.
CREATE OR REPLACE FUNCTION trellis.cron_value(token text, lo integer, hi integer, names text[], what text) RETURNS integer
LANGUAGE plpgsql IMMUTABLE AS $fn$
DECLARE
    v integer;
BEGIN
    IF token ~ '^[0-9]{1,4}$' THEN
        v := token::integer;
    ELSIF names IS NOT NULL AND token = ANY (names) THEN
        v := array_position(names, token) - 1 + lo;
    ELSE
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('cron %s: "%s" is not a value', what, token);
    END IF;
    IF v NOT BETWEEN lo AND hi THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('cron %s: %s is outside %s-%s', what, v, lo, hi);
    END IF;
    RETURN v;
END;
$fn$;
