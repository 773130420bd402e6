SELECT r.id, w.name AS workflow, v.version, r.status, p.name AS started_by, r.created_at, r.finished_at, r.total_cost,
       (SELECT count(*) FROM trellis.node_runs n WHERE n.run_id = r.id AND n.parent_id IS NULL) AS nodes
FROM trellis.workflow_runs r
JOIN trellis.workflows w ON w.id = r.workflow_id
JOIN trellis.workflow_versions v ON v.id = r.version_id
LEFT JOIN trellis.principals p ON p.id = r.started_by
WHERE ($1::text IS NULL OR w.name = $1::text) AND ($2::text IS NULL OR r.status = $2::text)
ORDER BY r.created_at DESC, r.id
LIMIT $3::integer
