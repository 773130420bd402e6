SELECT r.id, w.name AS workflow, v.version, r.status, r.input, r.output, r.error, r.priority, r.total_cost,
       r.created_at, r.started_at, r.finished_at, r.last_seq, p.name AS started_by
FROM trellis.workflow_runs r
JOIN trellis.workflows w ON w.id = r.workflow_id
JOIN trellis.workflow_versions v ON v.id = r.version_id
LEFT JOIN trellis.principals p ON p.id = r.started_by
WHERE r.id = $1::uuid
