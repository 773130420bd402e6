-- Synthetic finished history for EXPLAIN figures (trellis bench history, tests): $1 runs
-- created over the last 90 days, spread over every published version whose nodes are all
-- work nodes; one node run, one attempt and two events per node; every 10th run fails
-- at its last node, every 97th is still running (its nodes pending, without events). One statement: the foreign keys are
-- checked at its end, after every CTE has inserted its rows.
WITH versions AS (
    SELECT v.id AS version_id, v.workflow_id, (row_number() OVER (ORDER BY v.id) - 1)::int AS k,
           count(*) OVER ()::int AS n,
           (SELECT count(*) FROM trellis.workflow_nodes wn WHERE wn.version_id = v.id)::int AS width
    FROM trellis.workflow_versions v
    WHERE NOT EXISTS (SELECT 1 FROM trellis.workflow_nodes wn
                      WHERE wn.version_id = v.id AND wn.kind NOT IN ('tool_call', 'agent_call'))
), runs AS (
    INSERT INTO trellis.workflow_runs (workflow_id, version_id, status, created_at, started_at, finished_at,
                                       total_cost, failed_node, error, started_by, last_seq, nodes_remaining)
    SELECT v.workflow_id, v.version_id,
           CASE WHEN g % 97 = 0 THEN 'running' WHEN g % 10 = 0 THEN 'failed' ELSE 'succeeded' END,
           t.at, t.at + interval '150 ms',
           CASE WHEN g % 97 = 0 THEN NULL ELSE t.at + (1 + g % 600) * interval '1 second' END,
           v.width * 0.01,
           CASE WHEN g % 97 <> 0 AND g % 10 = 0 THEN 'last' END,
           CASE WHEN g % 97 <> 0 AND g % 10 = 0 THEN '{"code": "handler_error", "message": "synthetic"}'::jsonb END,
           (SELECT p.id FROM trellis.principals p WHERE p.name = 'admin'),
           CASE WHEN g % 97 = 0 THEN 0 ELSE 2 * v.width END, CASE WHEN g % 97 = 0 THEN v.width ELSE 0 END
    FROM generate_series(1, $1::integer) g
    JOIN versions v ON v.k = g % v.n
    CROSS JOIN LATERAL (SELECT now() - (g::double precision / $1::integer) * interval '90 days' AS at) t
    RETURNING id, workflow_id, version_id, status, created_at, finished_at
), nodes AS (
    INSERT INTO trellis.node_runs (run_id, workflow_id, node_id, node_key, kind, handler, status, attempt,
                                   ready_at, started_at, finished_at, cost, claimed_by, error)
    SELECT r.id, r.workflow_id, wn.id, wn.key, wn.kind, wn.handler,
           CASE WHEN r.status = 'running' THEN 'pending'
                WHEN r.status = 'failed' AND wn.position = last.position THEN 'failed' ELSE 'succeeded' END,
           CASE WHEN r.status = 'running' THEN 0 ELSE 1 END,
           CASE WHEN r.status <> 'running' THEN r.created_at + wn.position * interval '1 second' END,
           CASE WHEN r.status <> 'running' THEN r.created_at + wn.position * interval '1 second' + interval '2 ms' END,
           CASE WHEN r.status <> 'running' THEN r.created_at + (wn.position + 1) * interval '1 second' END,
           0.01, 'bench-history',
           CASE WHEN r.status = 'failed' AND wn.position = last.position
                THEN '{"code": "handler_error", "message": "synthetic"}'::jsonb END
    FROM runs r
    JOIN trellis.workflow_nodes wn ON wn.version_id = r.version_id
    CROSS JOIN LATERAL (SELECT max(x.position) AS position FROM trellis.workflow_nodes x WHERE x.version_id = r.version_id) last
    RETURNING id, run_id, status, started_at, finished_at, node_key
), attempts AS (
    INSERT INTO trellis.node_attempts (node_run_id, run_id, attempt, scheduler_name, outcome, error, cost, started_at, finished_at)
    SELECT n.id, n.run_id, 1, 'bench-history', n.status,
           CASE WHEN n.status = 'failed' THEN '{"code": "handler_error", "message": "synthetic"}'::jsonb END,
           0.01, n.started_at, n.finished_at
    FROM nodes n WHERE n.status <> 'pending'
    RETURNING id
), events AS (
    INSERT INTO trellis.run_events (run_id, seq, type, ts, data)
    SELECT n.run_id, row_number() OVER (PARTITION BY n.run_id ORDER BY n.id, e.k),
           CASE e.k WHEN 1 THEN 'node.started' ELSE 'node.finished' END, coalesce(n.started_at, now()),
           jsonb_build_object('node_key', n.node_key, 'status', n.status)
    FROM nodes n CROSS JOIN (VALUES (1), (2)) AS e(k)
    WHERE n.status <> 'pending'
    RETURNING run_id
)
SELECT (SELECT count(*) FROM runs) AS runs, (SELECT count(*) FROM nodes) AS node_runs,
       (SELECT count(*) FROM attempts) AS attempts, (SELECT count(*) FROM events) AS events
