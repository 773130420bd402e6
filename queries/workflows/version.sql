-- A version of a workflow: the given one, or the latest when $2 is NULL.
SELECT w.name, w.description, v.id AS version_id, v.version, v.checksum, v.definition,
       jsonb_pretty(v.definition) AS pretty_definition, v.created_at,
       a.name AS author, t.name AS template, t.version AS template_version,
       (SELECT max(version) FROM trellis.workflow_versions x WHERE x.workflow_id = w.id) AS latest_version
FROM trellis.workflows w
JOIN trellis.workflow_versions v ON v.workflow_id = w.id
LEFT JOIN trellis.principals a ON a.id = v.author_id
LEFT JOIN trellis.workflow_templates t ON t.id = v.template_id
WHERE w.name = $1 AND ($2::integer IS NULL OR v.version = $2::integer)
ORDER BY v.version DESC
LIMIT 1
