-- PROTOCOL.md: an event's `ts` is the database time at insert. `now()` is the start of the
-- writing transaction, which made every event of a long transaction look older than it
-- is (and delivery lag look longer); the statement's clock is what the contract says.
ALTER TABLE trellis.run_events ALTER COLUMN ts SET DEFAULT clock_timestamp();
