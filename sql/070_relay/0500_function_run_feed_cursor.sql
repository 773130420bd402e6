-- A position in the run feed as clients see it: "<xid>:<run_id>:<seq>" (opaque to them).
CREATE OR REPLACE FUNCTION trellis.run_feed_cursor(xid xid8, run uuid, seq bigint) RETURNS text
LANGUAGE sql IMMUTABLE AS $fn$
    SELECT format('%s:%s:%s', xid, run, seq)
$fn$;
