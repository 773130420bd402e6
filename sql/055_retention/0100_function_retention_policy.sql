-- The retention policy that applies to a workflow: its own, else the default, else none
-- (keep everything). `source` says which: workflow, default or none.
CREATE OR REPLACE FUNCTION trellis.retention_policy(workflow_id bigint)
RETURNS TABLE (keep_days integer, keep_runs integer, source text)
LANGUAGE sql STABLE AS $fn$
    SELECT p.keep_days, p.keep_runs, CASE WHEN p.workflow_id IS NULL THEN 'default' ELSE 'workflow' END
    FROM trellis.retention_policies p
    WHERE p.workflow_id = retention_policy.workflow_id OR p.workflow_id IS NULL
    ORDER BY p.workflow_id NULLS LAST
    LIMIT 1
$fn$;
