SELECT a.id, a.run_id, w.name AS workflow, n.node_key, a.status, a.kind, a.prompt, a.required_approvals,
       (SELECT count(*) FROM trellis.approval_decisions d WHERE d.approval_id = a.id AND d.decision = 'approve') AS approvals,
       a.created_at, a.expires_at, a.decided_at, p.name AS decided_by, a.comment, s.name AS started_by
FROM trellis.approvals a
JOIN trellis.workflow_runs r ON r.id = a.run_id
JOIN trellis.workflows w ON w.id = r.workflow_id
JOIN trellis.node_runs n ON n.id = a.node_run_id
LEFT JOIN trellis.principals p ON p.id = a.decided_by
LEFT JOIN trellis.principals s ON s.id = r.started_by
WHERE ($1::text IS NULL OR a.status = $1::text) AND ($2::uuid IS NULL OR a.run_id = $2::uuid)
ORDER BY a.created_at, a.id
LIMIT $3::integer
