-- Per-workflow concurrency limits (workflows.max_concurrent_runs / max_concurrent_nodes).
-- The claim path needs a node's workflow without a join, like node_key and handler, so
-- node runs carry it; the partial indexes count what holds a slot: running nodes and
-- started, unfinished runs of one workflow.
ALTER TABLE trellis.node_runs ADD COLUMN workflow_id bigint REFERENCES trellis.workflows (id) ON DELETE RESTRICT;
UPDATE trellis.node_runs n SET workflow_id = r.workflow_id FROM trellis.workflow_runs r WHERE r.id = n.run_id;
ALTER TABLE trellis.node_runs ALTER COLUMN workflow_id SET NOT NULL;
CREATE INDEX node_runs_running_workflow_idx ON trellis.node_runs (workflow_id) WHERE status = 'running';
CREATE INDEX workflow_runs_started_workflow_idx ON trellis.workflow_runs (workflow_id)
    WHERE status IN ('running', 'paused', 'waiting');
