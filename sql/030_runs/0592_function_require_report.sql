-- What every batch of results or failures a scheduler reports is checked for before
-- anything else: `items` must be a JSON array (else 22023 with `refusal`, which names the
-- expected shape), and the scheduler must be registered to the caller (require_scheduler).
CREATE OR REPLACE FUNCTION trellis.require_report(scheduler bigint, items jsonb, refusal text) RETURNS void
LANGUAGE plpgsql STABLE AS $fn$
BEGIN
    IF jsonb_typeof(items) IS DISTINCT FROM 'array' THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = refusal;
    END IF;
    PERFORM trellis.require_scheduler(scheduler);
END;
$fn$;
