-- Which runs failed in the last 24 hours, where, and why?
SELECT run_id, workflow, version, failed_node, error_message, finished_at
FROM trellis.run_history
WHERE status = 'failed' AND created_at > now() - interval '1 day'
ORDER BY finished_at DESC
LIMIT 20;
