-- The values one cron field allows, ascending: `*`, a value, a range `a-b`, a step `*/n`
-- or `a-b/n` or `a/n` (from a to the end), or a comma list of those. Bad syntax: 22023
-- naming the field.
CREATE OR REPLACE FUNCTION trellis.cron_field(field text, lo integer, hi integer, names text[], what text) RETURNS integer[]
LANGUAGE plpgsql IMMUTABLE AS $fn$
DECLARE
    part text;
    m text[];
    a integer;
    b integer;
    step integer;
    result integer[] := '{}';
BEGIN
    FOREACH part IN ARRAY string_to_array(lower(field), ',') LOOP
        m := regexp_match(part, '^(\*|[a-z0-9]+)(?:-([a-z0-9]+))?(?:/([0-9]{1,4}))?$');
        IF m IS NULL THEN
            RAISE EXCEPTION USING ERRCODE = '22023',
                MESSAGE = format('cron %s: "%s" is not a value, range, step or list', what, part);
        END IF;
        step := coalesce(m[3]::integer, 1);
        IF step < 1 THEN
            RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('cron %s: step must be at least 1 in "%s"', what, part);
        END IF;
        IF m[1] = '*' THEN
            IF m[2] IS NOT NULL THEN
                RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('cron %s: "%s" is not a value, range, step or list', what, part);
            END IF;
            a := lo;
            b := hi;
        ELSE
            a := trellis.cron_value(m[1], lo, hi, names, what);
            b := CASE WHEN m[2] IS NOT NULL THEN trellis.cron_value(m[2], lo, hi, names, what)
                      WHEN m[3] IS NOT NULL THEN hi ELSE a END;
            IF b < a THEN
                RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('cron %s: range "%s" runs backwards', what, part);
            END IF;
        END IF;
        result := result || ARRAY(SELECT generate_series(a, b, step));
    END LOOP;
    RETURN ARRAY(SELECT DISTINCT v FROM unnest(result) AS v ORDER BY v);
END;
$fn$;
