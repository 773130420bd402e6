SELECT count(*) AS open FROM trellis.workflow_runs r
JOIN trellis.workflows w ON w.id = r.workflow_id
WHERE w.name = $1 AND r.finished_at IS NULL
