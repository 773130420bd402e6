-- The readiness doorbell (NOTIFY trellis_ready '<handler>') for nodes just made ready.
-- A scheduler's pipelined pass — report results, then claim, in one transaction — defers
-- it (trellis.defer_ready_doorbells): the claim at the end of the pass takes what its
-- results made ready, and rings only for what it left (trellis.ring_deferred_doorbells).
-- Rung at once, every other scheduler woke for each DAG level one of them had already
-- claimed, and its empty claim — a millisecond of database time on each — stood in the
-- way of the next results (one DAG run at a time: 21 ms with two schedulers, 15–16 with one).
-- Everyone else (approvals, reclaims, the API) rings at once through it, as before; a
-- start (create_runs), never part of a pass, notifies directly.
CREATE OR REPLACE FUNCTION trellis.ring_ready(handlers text[]) RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
    deferred text := current_setting('trellis.deferred_doorbells', true);
BEGIN
    IF coalesce(cardinality(handlers), 0) = 0 THEN
        RETURN;
    END IF;
    IF left(coalesce(deferred, ''), 1) <> '[' THEN  -- not deferring (unset, or set to anything else)
        -- PostgreSQL folds identical notifications of one transaction into one.
        PERFORM pg_notify('trellis_ready', h) FROM unnest(handlers) AS h;
    ELSIF NOT deferred::jsonb @> to_jsonb(handlers) THEN
        -- Each handler once: a pass that completes a hundred runs' roots calls this a
        -- hundred times, and a list grown (and parsed again) on each call cost the fan-out
        -- bench 7 %.
        PERFORM set_config('trellis.deferred_doorbells', (deferred::jsonb || to_jsonb(handlers))::text, true);
    END IF;
END;
$fn$;
