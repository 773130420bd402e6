-- An idempotency key that started a run with one input refuses a different input (TR409):
-- a retried request must not silently drop a changed payload.
CREATE OR REPLACE FUNCTION trellis.require_same_input(existing trellis.workflow_runs, input jsonb) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
    IF existing.input IS DISTINCT FROM input THEN
        RAISE EXCEPTION USING ERRCODE = 'TR409',
            MESSAGE = format('idempotency key "%s" already started run %s with a different input', existing.idempotency_key, existing.id),
            HINT = 'use a new key for a new request, or send the same input to get the existing run';
    END IF;
END;
$fn$;
