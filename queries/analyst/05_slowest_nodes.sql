-- Which nodes are slowest (p95 duration, last 7 days)?
SELECT workflow, node_key, count(*) AS runs,
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms)) AS p50_ms,
       round(percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms)) AS p95_ms
FROM trellis.node_history
WHERE run_created_at > now() - interval '7 days' AND status = 'succeeded' AND duration_ms IS NOT NULL
GROUP BY workflow, node_key
ORDER BY p95_ms DESC
LIMIT 10;
