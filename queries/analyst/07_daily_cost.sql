-- What did each workflow cost per day over the last 30 days?
SELECT date_trunc('day', created_at)::date AS day, workflow, count(*) AS runs, sum(total_cost) AS cost
FROM trellis.run_history
WHERE created_at > now() - interval '30 days'
GROUP BY 1, 2
ORDER BY 1 DESC, cost DESC;
