-- Throughput of one workflow's node runs measured by the database's own clock: nodes
-- finished over the span from the first start to the last finish (scheduler start-up and
-- the harness's polling are outside it).
SELECT count(*) AS nodes,
       extract(epoch FROM max(n.finished_at) - min(n.started_at)) AS seconds
FROM trellis.node_runs n
JOIN trellis.workflow_runs r ON r.id = n.run_id
WHERE r.workflow_id = trellis.workflow_id($1) AND n.status = 'succeeded'
