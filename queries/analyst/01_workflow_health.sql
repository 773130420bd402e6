-- How did each workflow (and version) do over the last 7 days?
SELECT workflow, version, runs, succeeded, failed, success_rate, p50_ms, p95_ms, most_failing_node
FROM trellis.workflow_stats(now() - interval '7 days')
ORDER BY runs DESC;
