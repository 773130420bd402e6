-- Retention that runs itself: per workflow, and a default (workflow_id NULL) for the
-- workflows without one, keep finished runs for keep_days and/or the newest keep_runs of
-- each workflow. Schedulers apply it (trellis.apply_retention), one instance at a time,
-- and count what they removed on their own row (scheduler_stats).
CREATE TABLE trellis.retention_policies (
    workflow_id  bigint UNIQUE REFERENCES trellis.workflows (id) ON DELETE CASCADE,
    keep_days    integer CONSTRAINT retention_keep_days_range CHECK (keep_days BETWEEN 1 AND 36500),
    keep_runs    integer CONSTRAINT retention_keep_runs_range CHECK (keep_runs BETWEEN 1 AND 100000000),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    updated_by   bigint REFERENCES trellis.principals (id) ON DELETE RESTRICT,
    CONSTRAINT retention_policies_keeps_something CHECK (keep_days IS NOT NULL OR keep_runs IS NOT NULL)
);
-- At most one default.
CREATE UNIQUE INDEX retention_policies_default_idx ON trellis.retention_policies ((true)) WHERE workflow_id IS NULL;

ALTER TABLE trellis.schedulers ADD COLUMN pruned_runs bigint NOT NULL DEFAULT 0;
ALTER TABLE trellis.schedulers ADD COLUMN pruned_at timestamptz;
