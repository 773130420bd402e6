-- Whether a principal may read an artifact: administrators, its uploader, and whoever may
-- view a run that references it.
CREATE OR REPLACE FUNCTION trellis.may_read_artifact(principal_id bigint, artifact trellis.artifacts) RETURNS boolean
LANGUAGE plpgsql STABLE AS $fn$
BEGIN
    RETURN artifact.created_by = principal_id
        OR EXISTS (SELECT 1 FROM trellis.principals p WHERE p.id = principal_id AND p.is_admin)
        OR EXISTS (SELECT 1 FROM trellis.artifact_refs f JOIN trellis.workflow_runs r ON r.id = f.run_id
                   WHERE f.artifact_id = artifact.id AND trellis.holds_privilege(principal_id, r.workflow_id, 'view'));
END;
$fn$;
