-- Revokes a grant; returns false when there was none. `actor` needs admin on the workflow.
CREATE OR REPLACE FUNCTION trellis.revoke_privilege(workflow text, principal text, privilege text, actor text DEFAULT 'admin')
RETURNS boolean
LANGUAGE sql AS $fn$
    SELECT trellis.change_privilege(workflow, principal, privilege, actor, false)
$fn$;
