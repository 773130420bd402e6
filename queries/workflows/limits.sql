-- A workflow's concurrency limits and what currently holds them.
SELECT w.max_concurrent_runs, w.max_concurrent_nodes,
       (SELECT count(*) FROM trellis.workflow_runs r
        WHERE r.workflow_id = w.id AND r.holds_slot AND r.finished_at IS NULL) AS active_runs,
       (SELECT count(*) FROM trellis.node_runs n WHERE n.workflow_id = w.id AND n.status = 'running') AS running_nodes
FROM trellis.workflows w WHERE w.name = $1
