SELECT n.id, n.node_key, n.kind, n.status, n.attempt, n.input, n.output, n.error, n.cost, n.ready_at,
       n.started_at, n.finished_at
FROM trellis.node_runs n
WHERE n.run_id = $1::uuid AND n.parent_id IS NULL
ORDER BY n.id
