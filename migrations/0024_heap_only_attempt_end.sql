-- An attempt's successful end becomes a heap-only (HOT) update (issue 12). complete_nodes
-- sets its outcome, finished_at, cost and tokens; node_attempts_trouble_idx named outcome
-- (in its predicate) and finished_at, so every success wrote a whole new tuple and an
-- entry in each of the table's four other indexes. The index behind trellis.fleet_status's
-- "last hour" counts now covers a stored generated column, trouble_at: finished_at for
-- failed, timed-out and lost attempts, NULL otherwise. A success leaves it NULL, so no
-- index sees a change, and the page keeps room for the new versions (fillfactor 50: the
-- attempts of one claim fill whole pages and usually end together, in one statement that
-- rewrites every row of the page; at 70, fewer than half of them fitted).
-- Adding a stored column rewrites the table once (an exclusive lock for as long as that
-- takes on a large history).
ALTER TABLE trellis.node_attempts SET (fillfactor = 50);
ALTER TABLE trellis.node_attempts
    ADD COLUMN trouble_at timestamptz
    GENERATED ALWAYS AS (CASE WHEN outcome IN ('failed', 'timed_out', 'lost') THEN finished_at END) STORED;
COMMENT ON COLUMN trellis.node_attempts.trouble_at IS
    'When a failed, timed-out or lost attempt ended (NULL for any other outcome): what fleet_status counts over the last hour.';
DROP INDEX trellis.node_attempts_trouble_idx;
CREATE INDEX node_attempts_trouble_idx ON trellis.node_attempts (trouble_at) WHERE trouble_at IS NOT NULL;
