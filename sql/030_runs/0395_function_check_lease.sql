-- Refuses a lease outside 1 second .. trellis.max_lease_seconds (default 600): a lease is
-- how long a dead scheduler's work stays stuck, so it has an upper bound. claim_nodes
-- checks the usual lease inline against the same default bound: change both together.
CREATE OR REPLACE FUNCTION trellis.check_lease(lease interval) RETURNS void
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
    max_seconds bigint := trellis.setting('max_lease_seconds', 600);
BEGIN
    IF lease IS NULL OR lease < interval '1 second' OR lease > max_seconds * interval '1 second' THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('lease must be 1 second to %s seconds (trellis.max_lease_seconds), got %s', max_seconds, coalesce(lease::text, 'nothing'));
    END IF;
END;
$fn$;
