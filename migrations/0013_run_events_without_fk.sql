-- run_events loses its foreign key to workflow_runs: the key's check cost an index probe
-- and a row lock per event on the hot path (five events per one-node run; ≈ 14 % of a
-- claim/complete pass, measured), and it guarded nothing the writers do not: every event
-- takes its seq from an UPDATE of its run's row in the same statement, so an event of a
-- run that does not exist cannot be written. Deleting runs still deletes their events,
-- set-based, through the statement trigger trellis.delete_run_events (sql/030_runs).
ALTER TABLE trellis.run_events DROP CONSTRAINT IF EXISTS run_events_run_id_fkey;
