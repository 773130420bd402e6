-- Revokes a grant; returns false when there was none. `actor` needs admin on the workflow.
CREATE OR REPLACE FUNCTION trellis.revoke_privilege(workflow text, principal text, privilege text, actor text DEFAULT 'admin')
RETURNS boolean
LANGUAGE plpgsql AS $fn$
DECLARE
    actor_id bigint := trellis.principal_id(actor);
    target_id bigint := trellis.principal_id(principal);
    wf_id bigint := trellis.workflow_id(workflow);
    removed int;
BEGIN
    PERFORM trellis.has_privilege(actor, workflow, privilege);
    PERFORM trellis.require_privilege(actor_id, wf_id, 'admin');
    DELETE FROM trellis.workflow_permissions wp
    WHERE wp.workflow_id = wf_id AND wp.principal_id = target_id AND wp.privilege = revoke_privilege.privilege;
    GET DIAGNOSTICS removed = ROW_COUNT;
    RETURN removed > 0;
END;
$fn$;
