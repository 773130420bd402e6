-- The default retention policy (for workflows without their own), if any.
SELECT p.keep_days, p.keep_runs, 'default' AS source FROM trellis.retention_policies p WHERE p.workflow_id IS NULL
