-- trellis.fleet_status counts lost leases and failed attempts of the last hour: a partial
-- index over the (few) attempts that did not succeed keeps that a range scan however long
-- the history.
CREATE INDEX node_attempts_trouble_idx ON trellis.node_attempts (finished_at)
    WHERE outcome IN ('failed', 'timed_out', 'lost');
