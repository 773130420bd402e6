-- One row per attempt (a claim of a node run): which scheduler ran it, how it ended
-- (succeeded, failed, timed_out, lost, cancelled, or still running), duration, cost and
-- model tokens (an llm call's).
-- Filter time windows on run_created_at (indexed), as for node_history.
-- Columns stored as domains (migration 0027) are read as their base types.
CREATE OR REPLACE VIEW trellis.attempt_history AS
SELECT at.id AS attempt_id,
       at.run_id,
       r.created_at AS run_created_at,
       at.node_run_id,
       w.name AS workflow,
       v.version,
       nr.node_key,
       nr.item_index::integer AS item_index,
       at.attempt,
       at.outcome,
       at.scheduler_id,
       at.scheduler_name AS scheduler,
       at.started_at,
       at.finished_at,
       (extract(epoch FROM at.finished_at - at.started_at) * 1000)::bigint AS duration_ms,
       at.cost,
       at.error ->> 'code' AS error_code,
       at.error ->> 'message' AS error_message,
       at.tokens_in,
       at.tokens_out
FROM trellis.node_attempts at
JOIN trellis.node_runs nr ON nr.id = at.node_run_id
JOIN trellis.workflow_runs r ON r.id = at.run_id
JOIN trellis.workflows w ON w.id = r.workflow_id
JOIN trellis.workflow_versions v ON v.id = r.version_id;

COMMENT ON VIEW trellis.attempt_history IS 'One row per node attempt (docs/history.md).';
GRANT SELECT ON trellis.attempt_history TO trellis_analyst;
