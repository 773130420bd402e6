-- trellis history failures: failed node runs since a duration ago, newest first.
SELECT h.finished_at, h.workflow, h.version, h.run_id, h.node_key, h.item_index, h.attempts,
       h.error_code, h.error_message
FROM trellis.node_history h
WHERE h.status = 'failed' AND h.finished_at >= trellis.duration_ago($1, 'since')
  AND ($2::text IS NULL OR h.workflow = $2)
ORDER BY h.finished_at DESC, h.node_run_id DESC
LIMIT $3
