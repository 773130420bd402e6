-- How long does ready work wait for a scheduler, per handler (last 24 hours)?
SELECT handler, count(*) AS nodes, round(avg(wait_ms)) AS avg_wait_ms,
       round(percentile_cont(0.99) WITHIN GROUP (ORDER BY wait_ms)::numeric, 1) AS p99_wait_ms
FROM trellis.node_history
WHERE run_created_at > now() - interval '1 day' AND wait_ms IS NOT NULL
GROUP BY handler
ORDER BY p99_wait_ms DESC;
