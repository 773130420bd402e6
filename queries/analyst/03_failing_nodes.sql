-- Which nodes fail most often (last 7 days), and with which error codes?
SELECT workflow, node_key, count(*) AS failures, array_agg(DISTINCT error_code) AS error_codes
FROM trellis.node_history
WHERE status = 'failed' AND finished_at > now() - interval '7 days'
GROUP BY workflow, node_key
ORDER BY failures DESC
LIMIT 10;
