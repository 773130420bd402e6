-- A human_gate node waits for its approval in status `waiting`: not claimable, and never
-- mistaken for dead work by the lease reclaimer (which only looks at `running`).
ALTER TABLE trellis.node_runs DROP CONSTRAINT node_runs_status_check;
ALTER TABLE trellis.node_runs ADD CONSTRAINT node_runs_status_check
    CHECK (status IN ('pending', 'ready', 'held', 'running', 'waiting', 'succeeded', 'failed', 'skipped', 'cancelled'));
