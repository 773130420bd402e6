-- Where a new feed subscriber without a cursor starts: the last position whose
-- transaction is older than every open one. Everything that becomes visible later sorts
-- after it (its xid is at least the snapshot's xmin), so "from now on" misses nothing.
CREATE OR REPLACE FUNCTION trellis.run_feed_head() RETURNS text
LANGUAGE sql STABLE AS $fn$
    SELECT coalesce(
        (SELECT trellis.run_feed_cursor(e.xid, e.run_id, e.seq) FROM trellis.run_events e
         WHERE e.type LIKE 'run.%' AND e.xid IS NOT NULL AND e.xid < pg_snapshot_xmin(pg_current_snapshot())
         ORDER BY e.xid DESC, e.run_id DESC, e.seq DESC LIMIT 1),
        trellis.run_feed_cursor('0'::xid8, '00000000-0000-0000-0000-000000000000', 0))
$fn$;
