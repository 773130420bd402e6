-- GET /v1/workflows/{name}[/versions/{version}]: one version (the latest when `version`
-- is NULL) with its definition document and graph, for a principal holding `view`.
-- Unknown workflow or version: TR404.
CREATE OR REPLACE FUNCTION trellis.workflow_document(workflow text, version integer, principal text) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
    who bigint := trellis.principal_id(principal);
    wf_id bigint := trellis.workflow_id(workflow);
    doc jsonb;
BEGIN
    PERFORM trellis.require_privilege(who, wf_id, 'view');
    SELECT jsonb_build_object(
               'name', w.name, 'description', w.description, 'version', v.version,
               'latest_version', (SELECT max(x.version) FROM trellis.workflow_versions x WHERE x.workflow_id = w.id),
               'checksum', v.checksum, 'author', a.name, 'published_at', v.created_at,
               'template', CASE WHEN t.id IS NOT NULL THEN jsonb_build_object('name', t.name, 'version', t.version) END,
               'privileges', to_jsonb(trellis.workflow_privileges(who, w.id)),
               'definition', v.definition, 'graph', trellis.workflow_graph(v.id))
    INTO doc
    FROM trellis.workflows w
    JOIN trellis.workflow_versions v ON v.workflow_id = w.id
    LEFT JOIN trellis.principals a ON a.id = v.author_id
    LEFT JOIN trellis.workflow_templates t ON t.id = v.template_id
    WHERE w.id = wf_id AND (workflow_document.version IS NULL OR v.version = workflow_document.version)
    ORDER BY v.version DESC
    LIMIT 1;
    IF doc IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'TR404', MESSAGE = format('workflow "%s" has no version %s', workflow, version);
    END IF;
    RETURN doc;
END;
$fn$;
