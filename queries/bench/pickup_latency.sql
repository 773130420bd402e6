-- Enqueue → start per node, in milliseconds, for the runs of one workflow: from the start
-- of the transaction that enqueued the run to the start of the one that claimed the node.
SELECT extract(epoch FROM (n.started_at - r.created_at)) * 1000 AS ms
FROM trellis.node_runs n
JOIN trellis.workflow_runs r ON r.id = n.run_id
WHERE r.workflow_id = trellis.workflow_id($1) AND n.started_at IS NOT NULL
ORDER BY ms
