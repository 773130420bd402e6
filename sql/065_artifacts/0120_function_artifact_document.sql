-- An artifact as the CLI and the HTTP API show it, with the runs that reference it that
-- `principal_id` may view.
CREATE OR REPLACE FUNCTION trellis.artifact_document(a trellis.artifacts, principal_id bigint) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $fn$
BEGIN
    RETURN jsonb_build_object(
        'id', a.sha256, 'name', a.name, 'media_type', a.media_type, 'size', a.size,
        'created_by', (SELECT p.name FROM trellis.principals p WHERE p.id = a.created_by), 'created_at', a.created_at,
        'runs', (SELECT coalesce(jsonb_agg(jsonb_build_object('run_id', f.run_id, 'role', f.role) ORDER BY r.created_at), '[]'::jsonb)
                 FROM trellis.artifact_refs f JOIN trellis.workflow_runs r ON r.id = f.run_id
                 WHERE f.artifact_id = a.id AND trellis.holds_privilege(principal_id, r.workflow_id, 'view')));
END;
$fn$;
