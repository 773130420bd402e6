-- Whether `principal` holds `privilege` on `workflow`: administrators and the workflow's
-- owner hold everything; `admin` granted on a workflow implies view, run, edit and
-- approve; grants to a role apply to its members. Unknown principal or workflow: false.
CREATE OR REPLACE FUNCTION trellis.has_privilege(principal text, workflow text, privilege text) RETURNS boolean
LANGUAGE plpgsql STABLE AS $fn$
BEGIN
    IF privilege IS NULL OR privilege NOT IN ('view', 'run', 'edit', 'approve', 'admin') THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('unknown privilege "%s" (expected view, run, edit, approve or admin)', privilege);
    END IF;
    RETURN EXISTS (
        SELECT 1
        FROM trellis.principals p
        JOIN trellis.workflows w ON w.name = has_privilege.workflow
        WHERE p.name = has_privilege.principal
          AND p.disabled_at IS NULL
          AND trellis.holds_privilege(p.id, w.id, has_privilege.privilege));
END;
$fn$;
