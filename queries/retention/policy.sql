-- The retention policy in force for a workflow (its own, the default, or none).
SELECT p.keep_days, p.keep_runs, p.source FROM trellis.retention_policy(trellis.workflow_id($1)) p
