-- ready → running per node, in milliseconds, for the runs of one workflow.
SELECT extract(epoch FROM (n.started_at - n.ready_at)) * 1000 AS ms
FROM trellis.node_runs n
JOIN trellis.workflow_runs r ON r.id = n.run_id
JOIN trellis.workflows w ON w.id = r.workflow_id
WHERE w.name = $1 AND n.started_at IS NOT NULL AND n.ready_at IS NOT NULL
ORDER BY ms
