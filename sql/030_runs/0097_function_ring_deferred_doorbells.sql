-- The end of a deferred-doorbell pass (trellis.ring_ready), called by claim_nodes: rings
-- for the handlers whose nodes the claim may have left ready — every one when `all` (the
-- claim filled its batch, or took none, or limits held some back), else only the
-- handlers the claiming scheduler does not serve. Later doorbells of the transaction
-- ring at once again.
CREATE OR REPLACE FUNCTION trellis.ring_deferred_doorbells(served text[], everything boolean) RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
    deferred text := current_setting('trellis.deferred_doorbells', true);
BEGIN
    IF left(coalesce(deferred, ''), 1) <> '[' THEN
        RETURN;
    END IF;
    PERFORM set_config('trellis.deferred_doorbells', '', true);
    PERFORM pg_notify('trellis_ready', h)
    FROM jsonb_array_elements_text(deferred::jsonb) AS h
    WHERE everything OR h <> ALL (served);
END;
$fn$;
