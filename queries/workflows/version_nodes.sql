SELECT n.key, n.kind, n.handler, n.execution_level, n.upstream_count, n.retry_max_attempts, n.timeout_ms,
       n.on_error, n.join_mode, n.join_n, n.position
FROM trellis.workflow_nodes n
WHERE n.version_id = $1
ORDER BY n.execution_level, n.position
