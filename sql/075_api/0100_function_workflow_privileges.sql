-- The privileges `principal_id` holds on a workflow, in a fixed order (view, run, edit,
-- approve, admin), so an API client shows only the actions it may take. The SQL function
-- behind each action still checks it; this is a hint for a UI, not the gate.
CREATE OR REPLACE FUNCTION trellis.workflow_privileges(principal_id bigint, workflow_id bigint) RETURNS text[]
LANGUAGE sql STABLE AS $fn$
    SELECT coalesce(array_agg(p.privilege ORDER BY p.ord), '{}')
    FROM unnest(ARRAY['view', 'run', 'edit', 'approve', 'admin']) WITH ORDINALITY AS p(privilege, ord)
    WHERE trellis.holds_privilege(workflow_privileges.principal_id, workflow_privileges.workflow_id, p.privilege)
$fn$;
