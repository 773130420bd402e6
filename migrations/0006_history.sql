-- Run history for analysts (sql/050_history) and retention (prune_runs).
-- Functions are not executable by PUBLIC: roles get what they are granted
-- (trellis_admin everything, trellis_analyst the read-only workflow_stats). Default
-- privileges cover functions the migrating role creates later.
ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA trellis FROM PUBLIC;
-- Time windows over all workflows (workflow_stats, history CLI --since).
CREATE INDEX workflow_runs_created_idx ON trellis.workflow_runs (created_at);
-- Recent failures across workflows (history failures).
CREATE INDEX node_runs_failed_idx ON trellis.node_runs (finished_at) WHERE status = 'failed';
-- Approvals in a time window (approval_history.requested_at).
CREATE INDEX approvals_created_idx ON trellis.approvals (created_at);
