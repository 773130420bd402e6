SELECT t.name, t.version, t.description, t.parameters, t.definition, t.checksum, t.created_at, a.name AS author,
       jsonb_pretty(jsonb_build_object('name', t.name, 'description', t.description,
                                       'parameters', t.parameters, 'definition', t.definition)) AS pretty_document
FROM trellis.workflow_templates t
LEFT JOIN trellis.principals a ON a.id = t.author_id
WHERE t.name = $1 AND ($2::integer IS NULL OR t.version = $2::integer)
ORDER BY t.version DESC
LIMIT 1
