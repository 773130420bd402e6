SELECT count(*) AS nodes FROM trellis.node_attempts a
JOIN trellis.workflow_runs r ON r.id = a.run_id
JOIN trellis.workflows w ON w.id = r.workflow_id
WHERE w.name = $1 AND a.outcome = 'succeeded'
