-- One row per node run (items of a parallel node included, with item_index): status,
-- attempts, timings, cost and model tokens (summed over its attempts). wait_ms is from the moment its last attempt became
-- claimable (ready_at; after a retry, the end of the backoff) to that attempt's claim.
-- Filter time windows on run_created_at: it is indexed, so the planner starts from the
-- runs in the window and reaches their nodes through node_runs(run_id).
-- Columns stored as domains (migration 0027) are read as their base types.
CREATE OR REPLACE VIEW trellis.node_history AS
SELECT nr.id AS node_run_id,
       nr.run_id,
       r.created_at AS run_created_at,
       w.name AS workflow,
       v.version,
       nr.node_key,
       nr.kind,
       nr.handler,
       nr.item_index::integer AS item_index,
       nr.status::text AS status,
       nr.attempt::integer AS attempts,
       nr.ready_at,
       nr.started_at,
       nr.finished_at,
       (extract(epoch FROM last.started_at - nr.ready_at) * 1000)::bigint AS wait_ms,
       (extract(epoch FROM nr.finished_at - nr.started_at) * 1000)::bigint AS duration_ms,
       nr.cost,
       nr.claimed_by AS scheduler,
       nr.error ->> 'code' AS error_code,
       nr.error ->> 'message' AS error_message,
       tokens.tokens_in,
       tokens.tokens_out
FROM trellis.node_runs nr
JOIN trellis.workflow_runs r ON r.id = nr.run_id
JOIN trellis.workflows w ON w.id = r.workflow_id
JOIN trellis.workflow_versions v ON v.id = r.version_id
LEFT JOIN trellis.node_attempts last ON last.node_run_id = nr.id AND last.attempt = nr.attempt
CROSS JOIN LATERAL (
    SELECT sum(at.tokens_in) AS tokens_in, sum(at.tokens_out) AS tokens_out
    FROM trellis.node_attempts at WHERE at.node_run_id = nr.id
) tokens;

COMMENT ON VIEW trellis.node_history IS 'One row per node run (docs/history.md).';
GRANT SELECT ON trellis.node_history TO trellis_analyst;
