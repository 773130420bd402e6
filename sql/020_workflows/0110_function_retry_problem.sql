-- Checks a retry policy object; returns a message naming the bad field, or NULL when valid.
-- Fields: max_attempts (1..1000), initial_delay, max_delay (durations), multiplier (1..100), jitter (bool).
CREATE OR REPLACE FUNCTION trellis.retry_problem(retry jsonb) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    field text;
    initial bigint;
    maximum bigint;
BEGIN
    IF retry IS NULL THEN
        RETURN NULL;
    END IF;
    IF jsonb_typeof(retry) <> 'object' THEN
        RETURN 'retry must be an object';
    END IF;
    FOR field IN SELECT trellis.unknown_keys(retry, ARRAY['max_attempts', 'initial_delay', 'max_delay', 'multiplier', 'jitter']) LOOP
        RETURN format('retry has unknown field "%s" (expected max_attempts, initial_delay, max_delay, multiplier, jitter)', field);
    END LOOP;
    IF retry ? 'max_attempts' AND (jsonb_typeof(retry -> 'max_attempts') <> 'number'
        OR (retry ->> 'max_attempts')::numeric <> trunc((retry ->> 'max_attempts')::numeric)
        OR (retry ->> 'max_attempts')::numeric NOT BETWEEN 1 AND 1000) THEN
        RETURN format('retry.max_attempts must be an integer from 1 to 1000, got %s', retry -> 'max_attempts');
    END IF;
    IF retry ? 'initial_delay' THEN
        initial := trellis.parse_duration_ms(retry -> 'initial_delay');
        IF initial IS NULL OR initial < 0 THEN
            RETURN format('retry.initial_delay must be a duration such as 500ms, 2s or 1000, got %s', retry -> 'initial_delay');
        END IF;
    END IF;
    IF retry ? 'max_delay' THEN
        maximum := trellis.parse_duration_ms(retry -> 'max_delay');
        IF maximum IS NULL OR maximum <= 0 THEN
            RETURN format('retry.max_delay must be a positive duration, got %s', retry -> 'max_delay');
        END IF;
        IF maximum < coalesce(initial, 1000) THEN
            RETURN format('retry.max_delay (%s ms) is below retry.initial_delay (%s ms)', maximum, coalesce(initial, 1000));
        END IF;
    END IF;
    IF retry ? 'multiplier' AND (jsonb_typeof(retry -> 'multiplier') <> 'number'
        OR (retry ->> 'multiplier')::numeric NOT BETWEEN 1 AND 100) THEN
        RETURN format('retry.multiplier must be a number from 1 to 100, got %s', retry -> 'multiplier');
    END IF;
    IF retry ? 'jitter' AND jsonb_typeof(retry -> 'jitter') <> 'boolean' THEN
        RETURN format('retry.jitter must be true or false, got %s', retry -> 'jitter');
    END IF;
    RETURN NULL;
END;
$$;
