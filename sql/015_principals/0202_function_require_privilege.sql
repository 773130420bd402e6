-- Raises 42501 naming principal, privilege and workflow unless the privilege is held.
CREATE OR REPLACE FUNCTION trellis.require_privilege(principal_id bigint, workflow_id bigint, privilege text) RETURNS void
LANGUAGE plpgsql STABLE AS $fn$
BEGIN
    IF NOT trellis.holds_privilege(principal_id, workflow_id, privilege) THEN
        RAISE EXCEPTION USING ERRCODE = '42501',
            MESSAGE = format('principal "%s" lacks the "%s" privilege on workflow "%s"',
                             (SELECT name FROM trellis.principals WHERE id = principal_id), privilege,
                             (SELECT name FROM trellis.workflows WHERE id = workflow_id)),
            HINT = format('an administrator can run `trellis grant %s WORKFLOW PRINCIPAL`', privilege);
    END IF;
END;
$fn$;
