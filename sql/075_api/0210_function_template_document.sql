-- GET /v1/templates/{name}: one version of a template (the latest when `version` is NULL):
-- its parameters and definition with placeholders. Unknown template or version: TR404.
CREATE OR REPLACE FUNCTION trellis.template_document(template text, version integer, principal text) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
    doc jsonb;
BEGIN
    PERFORM trellis.principal_id(principal);
    SELECT jsonb_build_object(
               'name', t.name, 'version', t.version, 'description', t.description, 'checksum', t.checksum,
               'author', a.name, 'created_at', t.created_at,
               'latest_version', (SELECT max(x.version) FROM trellis.workflow_templates x WHERE x.name = t.name),
               'parameters', t.parameters, 'definition', t.definition)
    INTO doc
    FROM trellis.workflow_templates t
    LEFT JOIN trellis.principals a ON a.id = t.author_id
    WHERE t.name = template AND (template_document.version IS NULL OR t.version = template_document.version)
    ORDER BY t.version DESC
    LIMIT 1;
    IF doc IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'TR404',
            MESSAGE = CASE WHEN version IS NULL THEN format('unknown template "%s"', template)
                           ELSE format('template "%s" has no version %s', template, version) END;
    END IF;
    RETURN doc;
END;
$fn$;
