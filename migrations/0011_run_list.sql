-- GET /v1/runs lists runs of many workflows newest first, a page at a time, by keyset on
-- (created_at, id). Runs started together by start_runs share created_at, so the index of
-- 0006 (created_at alone) left every page to sort all the runs of a tie; this one orders
-- them fully and serves the history views' time ranges as before.
DROP INDEX trellis.workflow_runs_created_idx;
CREATE INDEX workflow_runs_created_idx ON trellis.workflow_runs (created_at, id);
