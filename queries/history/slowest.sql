-- trellis history slowest: the longest finished runs created since a duration ago.
SELECT h.run_id, h.workflow, h.version, h.status, h.created_at, h.duration_ms, h.queue_ms,
       h.nodes, h.attempts, h.retries, h.total_cost
FROM trellis.run_history h
WHERE h.finished_at IS NOT NULL AND h.created_at >= trellis.duration_ago($1, 'since')
  AND ($2::text IS NULL OR h.workflow = $2)
ORDER BY h.duration_ms DESC, h.run_id
LIMIT $3
