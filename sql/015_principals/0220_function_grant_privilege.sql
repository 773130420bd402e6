-- Grants `privilege` on `workflow` to `principal`; `actor` needs admin on the workflow.
-- Returns false when the grant already existed (idempotent).
CREATE OR REPLACE FUNCTION trellis.grant_privilege(workflow text, principal text, privilege text, actor text DEFAULT 'admin')
RETURNS boolean
LANGUAGE sql AS $fn$
    SELECT trellis.change_privilege(workflow, principal, privilege, actor, true)
$fn$;
