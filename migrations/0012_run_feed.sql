-- The run-lifecycle feed across runs (PROTOCOL.md "Feeds beyond one run"): each event row
-- carries the id of the transaction that inserted it, so a reader can return only rows
-- whose transaction is older than every transaction still open — in (xid, run_id, seq)
-- order nothing can later appear behind its cursor. Rows written before this migration
-- have no xid and are not in the feed. Added without a default first, then given one, so
-- existing rows are not rewritten.
ALTER TABLE trellis.run_events ADD COLUMN xid xid8;
ALTER TABLE trellis.run_events ALTER COLUMN xid SET DEFAULT pg_current_xact_id();
CREATE INDEX run_events_feed_idx ON trellis.run_events (xid, run_id, seq)
    WHERE type LIKE 'run.%' AND xid IS NOT NULL;
