-- One row per run: what ran, who started it, how it went, how long, how much (cost, and
-- model tokens in and out over its attempts; NULL when no llm node ran). Node
-- counts are over the run's top-level nodes (items of a parallel node are attempts of
-- that node); attempts and retries count every claim, including items. A re-run
-- (trellis.retry_run) names the run it retried (retry_of) and the first run of its chain
-- (retry_root); trellis.run_chains counts each chain once. A run a schedule started names
-- it and the tick it was for.
-- Columns stored as domains (migration 0027) are read as their base types.
CREATE OR REPLACE VIEW trellis.run_history AS
SELECT r.id AS run_id,
       w.name AS workflow,
       v.version,
       r.status::text AS status,
       p.name AS started_by,
       r.priority,
       r.created_at,
       r.started_at,
       r.finished_at,
       (extract(epoch FROM r.started_at - r.created_at) * 1000)::bigint AS queue_ms,
       (extract(epoch FROM r.finished_at - r.created_at) * 1000)::bigint AS duration_ms,
       n.nodes,
       n.succeeded AS nodes_succeeded,
       n.failed AS nodes_failed,
       n.skipped AS nodes_skipped,
       n.cancelled AS nodes_cancelled,
       a.attempts,
       a.attempts - a.claimed_nodes AS retries,
       r.total_cost,
       r.failed_node,
       r.error ->> 'code' AS error_code,
       r.error ->> 'message' AS error_message,
       r.retry_of,
       r.retry_root,
       (SELECT s.name FROM trellis.schedules s WHERE s.id = r.schedule_id) AS schedule,
       r.scheduled_for,
       a.tokens_in,
       a.tokens_out
FROM trellis.workflow_runs r
JOIN trellis.workflows w ON w.id = r.workflow_id
JOIN trellis.workflow_versions v ON v.id = r.version_id
LEFT JOIN trellis.principals p ON p.id = r.started_by
CROSS JOIN LATERAL (
    SELECT count(*) AS nodes,
           count(*) FILTER (WHERE nr.status = 'succeeded') AS succeeded,
           count(*) FILTER (WHERE nr.status = 'failed') AS failed,
           count(*) FILTER (WHERE nr.status = 'skipped') AS skipped,
           count(*) FILTER (WHERE nr.status = 'cancelled') AS cancelled
    FROM trellis.node_runs nr WHERE nr.run_id = r.id AND nr.parent_id IS NULL
) n
CROSS JOIN LATERAL (
    SELECT count(*) AS attempts, count(DISTINCT at.node_run_id) AS claimed_nodes,
           sum(at.tokens_in) AS tokens_in, sum(at.tokens_out) AS tokens_out
    FROM trellis.node_attempts at WHERE at.run_id = r.id
) a;

COMMENT ON VIEW trellis.run_history IS 'One row per run (docs/history.md).';
GRANT SELECT ON trellis.run_history TO trellis_analyst;
