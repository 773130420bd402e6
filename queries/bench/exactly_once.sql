-- Exactly-once check after a bench workload, for the runs of one workflow: every run
-- succeeded; every node run succeeded on its first attempt with exactly one attempt row
-- (outcome succeeded) and exactly one node.finished event. Each column counts violations.
WITH runs AS (
    SELECT r.id, r.status FROM trellis.workflow_runs r WHERE r.workflow_id = trellis.workflow_id($1)
), nodes AS (
    SELECT n.id, n.status, n.attempt,
           (SELECT count(*) FROM trellis.node_attempts a WHERE a.node_run_id = n.id) AS attempts,
           (SELECT count(*) FROM trellis.node_attempts a WHERE a.node_run_id = n.id AND a.outcome = 'succeeded') AS succeeded,
           (SELECT count(*) FROM trellis.run_events e
            WHERE e.run_id = n.run_id AND e.type = 'node.finished' AND (e.data ->> 'node_run_id')::bigint = n.id) AS finished_events
    FROM trellis.node_runs n WHERE n.run_id IN (SELECT id FROM runs)
)
SELECT (SELECT count(*) FROM runs) AS runs,
       (SELECT count(*) FROM runs WHERE status <> 'succeeded') AS runs_not_succeeded,
       (SELECT count(*) FROM nodes) AS nodes,
       (SELECT count(*) FROM nodes WHERE status <> 'succeeded') AS nodes_not_succeeded,
       (SELECT count(*) FROM nodes WHERE attempt <> 1 OR attempts <> 1 OR succeeded <> 1) AS nodes_not_once,
       (SELECT count(*) FROM nodes WHERE finished_events <> 1) AS nodes_without_one_event
