-- Re-running a finished run (trellis.retry_run): the new run names the run it retries and
-- the first run of its chain, so history can follow a chain and count it once. No foreign
-- keys: retention may prune an earlier run of a chain, and its id still names the chain
-- (and a key check on every run start would cost the hot path for a rare link).
ALTER TABLE trellis.workflow_runs ADD COLUMN retry_of uuid;
ALTER TABLE trellis.workflow_runs ADD COLUMN retry_root uuid;
CREATE INDEX workflow_runs_retry_root_idx ON trellis.workflow_runs (retry_root) WHERE retry_root IS NOT NULL;
-- A node run whose output was kept from the run retried: the node run it came from.
ALTER TABLE trellis.node_runs ADD COLUMN reused_from bigint;
