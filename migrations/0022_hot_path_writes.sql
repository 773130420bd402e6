-- Fewer writes per node on the hot path (issue 12). A profile of one claim/complete
-- connection spent 18 % of its CPU in foreign-key checks (AfterTriggerEndQuery) and a
-- quarter in index insertions; these go, because nothing the writers do relies on them:
--
-- * node_attempts loses its three foreign keys (node run, run, scheduler) and node_runs
--   its key to schedulers: four checks per node, each an index probe and a row lock,
--   guarding rows that only claim_nodes writes, from the node run row it has locked and
--   the scheduler it has just checked (require_scheduler). What the keys' ON DELETE
--   actions did, statement triggers do (sql/030_runs): deleting runs deletes their
--   attempts, deleting a scheduler clears the references to it. Node runs are deleted
--   only with their run.
-- * node_runs loses its keys to workflow_nodes and workflows: two checks per node at every
--   start (a quarter of a one-node start_run's statements), guarding what the run row's
--   own keys already hold — a node run's workflow is its run's, its node belongs to the
--   run's version, and published nodes can never be deleted (workflow_nodes_immutable).
-- * node_runs_run_idx (run_id) goes: node_runs_unique_item (run_id, node_key, item_index)
--   leads with run_id and serves every lookup by run; the narrower copy cost two
--   index insertions per node (at claim and at finish).
-- * The idempotency key's unique constraint becomes a partial unique index: runs
--   without a key (nearly all) no longer insert into it at start and at every update of
--   their row that is not HOT (claim, finish).
ALTER TABLE trellis.node_attempts DROP CONSTRAINT node_attempts_node_run_id_fkey,
                                  DROP CONSTRAINT node_attempts_run_id_fkey,
                                  DROP CONSTRAINT node_attempts_scheduler_id_fkey;
ALTER TABLE trellis.node_runs DROP CONSTRAINT node_runs_scheduler_id_fkey,
                              DROP CONSTRAINT node_runs_node_id_fkey,
                              DROP CONSTRAINT node_runs_workflow_id_fkey;
DROP INDEX trellis.node_runs_run_idx;
ALTER TABLE trellis.workflow_runs DROP CONSTRAINT workflow_runs_workflow_id_idempotency_key_key;
CREATE UNIQUE INDEX workflow_runs_idempotency_key ON trellis.workflow_runs (workflow_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
