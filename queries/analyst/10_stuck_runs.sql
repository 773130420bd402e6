-- Which runs have been open for more than an hour, and what are they waiting for?
SELECT h.run_id, h.workflow, h.status, h.created_at, h.nodes - h.nodes_succeeded - h.nodes_failed
       - h.nodes_skipped - h.nodes_cancelled AS open_nodes, a.prompt AS waiting_for_approval
FROM trellis.run_history h
LEFT JOIN trellis.approval_history a ON a.run_id = h.run_id AND a.status = 'pending'
WHERE h.status IN ('queued', 'running', 'waiting', 'paused') AND h.created_at < now() - interval '1 hour'
ORDER BY h.created_at
LIMIT 20;
