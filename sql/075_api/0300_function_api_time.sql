-- An RFC 3339 time given to an API call, or NULL; a value that is not one is refused with
-- 22023 naming the parameter (`label`), not with the cast's own message.
CREATE OR REPLACE FUNCTION trellis.api_time(value text, label text) RETURNS timestamptz
LANGUAGE plpgsql STABLE AS $fn$
BEGIN
    IF value IS NULL THEN
        RETURN NULL;
    END IF;
    IF value !~ '^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}(:?\d{2})?)?$' THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('%s must be an RFC 3339 time such as 2026-11-30T12:00:00Z, got "%s"', label, left(value, 64));
    END IF;
    RETURN value::timestamptz;
EXCEPTION WHEN datetime_field_overflow OR invalid_datetime_format THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
        MESSAGE = format('%s must be an RFC 3339 time such as 2026-11-30T12:00:00Z, got "%s"', label, left(value, 64));
END;
$fn$;
