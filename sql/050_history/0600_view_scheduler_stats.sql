-- One row per scheduler instance: identity, liveness (from heartbeat age, never a flag),
-- and what it ran: attempts by outcome, nodes running now, busy time and cost; and the
-- finished runs it removed by the retention policies (apply_retention).
CREATE OR REPLACE VIEW trellis.scheduler_stats AS
SELECT s.id AS scheduler_id,
       s.name,
       s.hostname,
       s.pid,
       s.version,
       s.handlers,
       s.concurrency,
       s.started_at,
       s.heartbeat_at,
       s.stopped_at,
       s.stopped_at IS NULL AND s.heartbeat_at > now() - interval '1 minute' AS alive,
       a.attempts,
       a.succeeded,
       a.failed,
       a.timed_out,
       a.lost,
       a.cancelled,
       a.running,
       a.busy_ms,
       a.cost,
       s.pruned_runs,
       s.pruned_at
FROM trellis.schedulers s
CROSS JOIN LATERAL (
    SELECT count(*) AS attempts,
           count(*) FILTER (WHERE at.outcome = 'succeeded') AS succeeded,
           count(*) FILTER (WHERE at.outcome = 'failed') AS failed,
           count(*) FILTER (WHERE at.outcome = 'timed_out') AS timed_out,
           count(*) FILTER (WHERE at.outcome = 'lost') AS lost,
           count(*) FILTER (WHERE at.outcome = 'cancelled') AS cancelled,
           count(*) FILTER (WHERE at.outcome = 'running') AS running,
           coalesce(round(sum(extract(epoch FROM at.finished_at - at.started_at) * 1000)), 0)::bigint AS busy_ms,
           coalesce(sum(at.cost), 0) AS cost
    FROM trellis.node_attempts at WHERE at.scheduler_id = s.id
) a;

COMMENT ON VIEW trellis.scheduler_stats IS 'One row per scheduler instance (docs/history.md).';
GRANT SELECT ON trellis.scheduler_stats TO trellis_analyst;
