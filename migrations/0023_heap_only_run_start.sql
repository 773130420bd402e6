-- A run's start becomes a heap-only (HOT) update (issue 12). The first claim of a run
-- changes its row's status (queued → running), started_at and event counter; each index
-- that names one of those columns, as a key or in its predicate, made that update write a
-- whole new tuple plus an entry in every index of the table: six index insertions per run
-- start, the most expensive step of a claim's events after the event rows themselves. Now
-- no index names them, and the table keeps room on each page for the new tuple:
--
-- * workflow_runs_active_idx (status, over queued/running/paused/waiting runs) becomes
--   workflow_runs_open_idx (workflow_id) over unfinished runs: what it served (open runs
--   of a workflow, counts of open runs by status) reads the same rows through it. Its
--   predicate also names workflow_id IS NOT NULL (always true): only a query that names
--   the workflow (or says so) can use it, never a lookup of runs by id that checks
--   finished_at IS NULL — with statistics from before a burst, the planner priced the
--   index as empty and read every open run into a hash for a batch of a hundred.
-- * workflow_runs_started_workflow_idx (the run slots of max_concurrent_runs) becomes
--   workflow_runs_slot_idx over runs that hold a slot: holds_slot is set by the claim
--   that starts a run of a workflow with a run limit (and on the started runs of a
--   workflow when a limit is set), so runs of unlimited workflows never change it.
-- * workflow_runs_finished_idx goes: a run's finish is not heap-only anyway (finished_at
--   leaves the open index), but the index cost one more insertion per finished run, and
--   its callers (prune, its preview, retention) bound their scans by created_at instead
--   (a run finished before a cutoff was created before it).
-- * fillfactor 50: the page of a run row keeps room for its next version. A drain claims
--   runs in creation order, a hundred at once, so nearly every row of a page gets its new
--   version in one statement, and each must fit beside the others (HeapOnlyUpdateTests:
--   94 of 100 starts heap-only). Pages written before this migration stay full until
--   rewritten (VACUUM FULL).
ALTER TABLE trellis.workflow_runs SET (fillfactor = 50);
ALTER TABLE trellis.workflow_runs ADD COLUMN holds_slot boolean NOT NULL DEFAULT false;
UPDATE trellis.workflow_runs r SET holds_slot = true
FROM trellis.workflows w
WHERE w.id = r.workflow_id AND w.max_concurrent_runs IS NOT NULL AND r.started_at IS NOT NULL AND r.finished_at IS NULL;
DROP INDEX trellis.workflow_runs_active_idx;
DROP INDEX trellis.workflow_runs_started_workflow_idx;
DROP INDEX trellis.workflow_runs_finished_idx;
CREATE INDEX workflow_runs_open_idx ON trellis.workflow_runs (workflow_id)
    WHERE finished_at IS NULL AND workflow_id IS NOT NULL;
CREATE INDEX workflow_runs_slot_idx ON trellis.workflow_runs (workflow_id) WHERE holds_slot AND finished_at IS NULL;
COMMENT ON COLUMN trellis.workflow_runs.holds_slot IS
    'Whether the run counts against its workflow''s max_concurrent_runs (until it finishes): set when a claim starts a run of a limited workflow, or when a limit is set on a workflow with started runs.';
