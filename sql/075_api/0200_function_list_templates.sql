-- GET /v1/templates: the latest version of every template with its parameter count and
-- how many workflow versions came from it. Templates are shared recipes, not workflows:
-- any enabled principal may read them; instantiating one is a publish and checked as such.
CREATE OR REPLACE FUNCTION trellis.list_templates(principal text) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $fn$
BEGIN
    PERFORM trellis.principal_id(principal);
    RETURN (SELECT coalesce(jsonb_agg(x.item ORDER BY x.name), '[]'::jsonb) FROM (
        SELECT DISTINCT ON (t.name) t.name, jsonb_build_object(
                   'name', t.name, 'latest_version', t.version, 'description', t.description,
                   'created_at', t.created_at, 'parameters', jsonb_array_length(t.parameters),
                   'instantiations', (SELECT count(*) FROM trellis.workflow_versions v
                                      JOIN trellis.workflow_templates x ON x.id = v.template_id
                                      WHERE x.name = t.name)) AS item
        FROM trellis.workflow_templates t
        ORDER BY t.name, t.version DESC) x);
END;
$fn$;
