-- Transactions that settled the nodes of one workflow's runs, per run on average: the
-- distinct transaction ids of each run's node.finished events. A root → 8 → merge run
-- needs three (the root, the eight together, the merge); every one more is a round trip
-- a run waited for because siblings that finished together were reported apart.
SELECT coalesce(avg(t.n), 0)::float8 AS per_run
FROM (SELECT count(DISTINCT e.xid) AS n
      FROM trellis.run_events e
      JOIN trellis.workflow_runs r ON r.id = e.run_id
      WHERE r.workflow_id = trellis.workflow_id($1) AND e.type = 'node.finished'
      GROUP BY e.run_id) t
