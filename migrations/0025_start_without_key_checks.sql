-- Fewer checks per run start (issue 12). A set-based start of 20,000 one-node runs spent
-- 30 µs per run in the three foreign-key checks of workflow_runs (workflows,
-- workflow_versions, principals: 0.60 s of the insert's 0.95 s) and 15 µs per node in
-- node_runs' check of its run (0.31 s of 0.53 s) — each an after-trigger, an index probe
-- and a row lock. They go, because nothing they guard can happen:
--
-- * workflow_runs → workflows and workflow_versions (ON DELETE RESTRICT): versions can
--   never be deleted (workflow_versions_immutable), and a workflow with runs has versions,
--   which keep it (their own key to workflows); only create_runs writes runs, with the
--   version it has just pinned and that version's workflow.
-- * workflow_runs → principals (started_by, ON DELETE RESTRICT): create_runs takes the id
--   from principal_id(), which has just read it. Deleting a principal who started runs is
--   still refused (23503), by a statement trigger on principals (sql/015_principals).
-- * node_runs → workflow_runs (ON DELETE CASCADE): node runs are written by create_runs,
--   advance_run and start_parallel for runs they hold locked. Deleting runs deletes their
--   node runs through delete_run_rows (sql/030_runs), with their events and attempts;
--   approvals still go by their own keys.
ALTER TABLE trellis.workflow_runs DROP CONSTRAINT workflow_runs_workflow_id_fkey,
                                  DROP CONSTRAINT workflow_runs_version_id_fkey,
                                  DROP CONSTRAINT workflow_runs_started_by_fkey;
ALTER TABLE trellis.node_runs DROP CONSTRAINT node_runs_run_id_fkey;
