-- Which nodes needed retries this week, and how much did the retries cost?
SELECT workflow, node_key, count(*) FILTER (WHERE attempt > 1) AS retries,
       count(*) FILTER (WHERE outcome IN ('failed', 'timed_out', 'lost')) AS failed_attempts,
       sum(cost) FILTER (WHERE attempt > 1) AS retry_cost
FROM trellis.attempt_history
WHERE run_created_at > now() - interval '7 days'
GROUP BY workflow, node_key
HAVING count(*) FILTER (WHERE attempt > 1) > 0
ORDER BY retries DESC;
