-- GET /v1/events and the WebSocket op `subscribe_runs`: run lifecycle events (run.queued,
-- started, paused, resumed, waiting, finished) of every run whose workflow `principal`
-- may view (or of one `workflow`), after `after_cursor`, in (xid, run_id, seq) order, at
-- most `max_rows`. Only rows whose transaction is older than every transaction still in
-- progress are returned, so the order never changes behind a cursor (PROTOCOL.md): the
-- price is that a long open transaction holds the feed back until it ends. Rows the
-- principal may not see come back with `visible = false` and no payload, so the reader's
-- cursor moves past them (a page of them must not stall it). A cursor whose run has been
-- pruned is older than retention: TR410, and the client is told to reset (PROTOCOL.md).
CREATE OR REPLACE FUNCTION trellis.run_feed(principal text, workflow text, after_cursor text, max_rows integer DEFAULT 500)
RETURNS TABLE (cursor text, visible boolean, run_id uuid, seq bigint, type text, ts timestamptz, data jsonb, workflow_name text)
LANGUAGE plpgsql STABLE
-- Generic plans, made once per session: a feed is polled on every doorbell, and its custom
-- plans (the cursor's values known) always looked cheaper than the generic ones, so three
-- statements were planned afresh on each poll (0.9 ms a poll instead of 0.4, pgbench). The
-- generic plan is the same walk of run_events_feed_idx that stops at the limit.
SET plan_cache_mode = force_generic_plan AS $fn$
DECLARE
    who bigint := trellis.principal_id(principal);
    visible bigint[];
    parts text[];
    from_xid xid8;
    from_run uuid;
    from_seq bigint;
BEGIN
    IF after_cursor IS NULL OR after_cursor !~ '^[0-9]{1,20}:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}:[0-9]{1,18}$' THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('cursor "%s" is not one this feed returned', left(after_cursor, 80));
    END IF;
    parts := string_to_array(after_cursor, ':');
    from_xid := parts[1]::xid8;
    from_run := parts[2]::uuid;
    from_seq := parts[3]::bigint;
    IF from_run <> '00000000-0000-0000-0000-000000000000'
       AND NOT EXISTS (SELECT 1 FROM trellis.workflow_runs r WHERE r.id = from_run) THEN
        RAISE EXCEPTION USING ERRCODE = 'TR410',
            MESSAGE = format('cursor "%s" is older than retention: run %s was pruned; start again from a snapshot', after_cursor, from_run);
    END IF;
    IF max_rows IS NULL OR max_rows NOT BETWEEN 1 AND 10000 THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('max_rows must be 1 to 10000, got %s', max_rows);
    END IF;
    visible := trellis.viewable_workflows(who, workflow);
    RETURN QUERY
    SELECT trellis.run_feed_cursor(e.xid, e.run_id, e.seq), r.workflow_id = ANY (visible) IS TRUE,
           e.run_id, e.seq, e.type, e.ts,
           CASE WHEN r.workflow_id = ANY (visible) THEN e.data END, CASE WHEN r.workflow_id = ANY (visible) THEN w.name END
    FROM (
        SELECT f.xid, f.run_id, f.seq, f.type, f.ts, f.data FROM trellis.run_events f
        WHERE f.type LIKE 'run.%' AND f.xid IS NOT NULL
          AND (f.xid, f.run_id, f.seq) > (from_xid, from_run, from_seq)
          AND f.xid < pg_snapshot_xmin(pg_current_snapshot())
        ORDER BY f.xid, f.run_id, f.seq
        LIMIT max_rows) e
    LEFT JOIN trellis.workflow_runs r ON r.id = e.run_id
    LEFT JOIN trellis.workflows w ON w.id = r.workflow_id
    ORDER BY e.xid, e.run_id, e.seq;
END;
$fn$;
