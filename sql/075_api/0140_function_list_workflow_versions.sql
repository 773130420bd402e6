-- GET /v1/workflows/{name}/versions: every version, newest first, with who published it,
-- from which template, and how many runs it has; `view` required.
CREATE OR REPLACE FUNCTION trellis.list_workflow_versions(workflow text, principal text) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
    wf_id bigint := trellis.workflow_id(workflow);
BEGIN
    PERFORM trellis.require_privilege(trellis.principal_id(principal), wf_id, 'view');
    RETURN (SELECT coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
                'version', v.version, 'checksum', v.checksum, 'author', a.name, 'published_at', v.created_at,
                'template', CASE WHEN t.id IS NOT NULL THEN jsonb_build_object('name', t.name, 'version', t.version) END,
                'nodes', (SELECT count(*) FROM trellis.workflow_nodes n WHERE n.version_id = v.id),
                'runs', (SELECT count(*) FROM trellis.workflow_runs r WHERE r.version_id = v.id)))
                ORDER BY v.version DESC), '[]'::jsonb)
            FROM trellis.workflow_versions v
            LEFT JOIN trellis.principals a ON a.id = v.author_id
            LEFT JOIN trellis.workflow_templates t ON t.id = v.template_id
            WHERE v.workflow_id = wf_id);
END;
$fn$;
