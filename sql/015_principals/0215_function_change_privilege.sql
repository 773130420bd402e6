-- Grants (`granting`) or revokes `privilege` on `workflow` for `principal`; `actor` needs
-- admin on the workflow, and the names are checked first (unknown principal, workflow or
-- privilege name). Returns whether anything changed: false for a grant that existed or a
-- revoke of one that did not. grant_privilege and revoke_privilege are its two faces.
CREATE OR REPLACE FUNCTION trellis.change_privilege(workflow text, principal text, privilege text, actor text, granting boolean)
RETURNS boolean
LANGUAGE plpgsql AS $fn$
DECLARE
    actor_id bigint := trellis.principal_id(actor);
    target_id bigint := trellis.principal_id(principal);
    wf_id bigint := trellis.workflow_id(workflow);
    changed int;
BEGIN
    PERFORM trellis.has_privilege(actor, workflow, privilege);  -- validates the privilege name
    PERFORM trellis.require_privilege(actor_id, wf_id, 'admin');
    IF granting THEN
        INSERT INTO trellis.workflow_permissions (workflow_id, principal_id, privilege, granted_by)
        VALUES (wf_id, target_id, change_privilege.privilege, actor_id)
        ON CONFLICT DO NOTHING;
    ELSE
        DELETE FROM trellis.workflow_permissions wp
        WHERE wp.workflow_id = wf_id AND wp.principal_id = target_id AND wp.privilege = change_privilege.privilege;
    END IF;
    GET DIAGNOSTICS changed = ROW_COUNT;
    RETURN changed > 0;
END;
$fn$;
