-- trellis history stats: per workflow and version since a duration ago.
SELECT workflow, version, runs, succeeded, failed, cancelled, unfinished, success_rate,
       p50_ms, p95_ms, p99_ms, mean_cost, total_cost, most_failing_node, most_failing_node_failures
FROM trellis.workflow_stats(trellis.duration_ago($1, 'since'), now())
WHERE $2::text IS NULL OR workflow = $2
