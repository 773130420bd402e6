-- Duration fields accept a number of milliseconds or a string with a unit:
-- 250ms, 30s, 5m, 2h, 7d. Returns NULL for anything else (the caller reports it).
CREATE OR REPLACE FUNCTION trellis.parse_duration_ms(value jsonb) RETURNS bigint
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    m text[];
BEGIN
    IF value IS NULL OR jsonb_typeof(value) = 'null' THEN
        RETURN NULL;
    ELSIF jsonb_typeof(value) = 'number' THEN
        IF (value #>> '{}')::numeric <> trunc((value #>> '{}')::numeric) THEN
            RETURN NULL;
        END IF;
        RETURN (value #>> '{}')::numeric::bigint;
    ELSIF jsonb_typeof(value) = 'string' THEN
        m := regexp_match(value #>> '{}', '^\s*(\d{1,12})\s*(ms|s|m|h|d)\s*$');
        IF m IS NULL THEN
            RETURN NULL;
        END IF;
        RETURN m[1]::bigint * CASE m[2] WHEN 'ms' THEN 1 WHEN 's' THEN 1000 WHEN 'm' THEN 60000 WHEN 'h' THEN 3600000 ELSE 86400000 END;
    END IF;
    RETURN NULL;
EXCEPTION WHEN numeric_value_out_of_range THEN
    RETURN NULL;
END;
$$;
