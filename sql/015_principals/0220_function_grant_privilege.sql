-- Grants `privilege` on `workflow` to `principal`; `actor` needs admin on the workflow.
-- Returns false when the grant already existed (idempotent).
CREATE OR REPLACE FUNCTION trellis.grant_privilege(workflow text, principal text, privilege text, actor text DEFAULT 'admin')
RETURNS boolean
LANGUAGE plpgsql AS $fn$
DECLARE
    actor_id bigint := trellis.principal_id(actor);
    target_id bigint := trellis.principal_id(principal);
    wf_id bigint := trellis.workflow_id(workflow);
    added int;
BEGIN
    PERFORM trellis.has_privilege(actor, workflow, privilege);  -- validates the privilege name
    PERFORM trellis.require_privilege(actor_id, wf_id, 'admin');
    INSERT INTO trellis.workflow_permissions (workflow_id, principal_id, privilege, granted_by)
    VALUES (wf_id, target_id, grant_privilege.privilege, actor_id)
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS added = ROW_COUNT;
    RETURN added > 0;
END;
$fn$;
