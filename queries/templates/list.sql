SELECT DISTINCT ON (t.name) t.name, t.version AS latest_version, t.description, t.created_at,
       jsonb_array_length(t.parameters) AS parameter_count,
       (SELECT count(*) FROM trellis.workflow_versions v
        JOIN trellis.workflow_templates x ON x.id = v.template_id WHERE x.name = t.name) AS instantiations
FROM trellis.workflow_templates t
ORDER BY t.name, t.version DESC
