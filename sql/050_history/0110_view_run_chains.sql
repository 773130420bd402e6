-- One row per retry chain — a run and every re-run of it (trellis.retry_run) — described
-- by its latest run, so success rates can count a chain once: a run that failed and
-- succeeded on its retry is one success. A run never retried is a chain of one.
-- Columns stored as domains (migration 0027) are read as their base types.
CREATE OR REPLACE VIEW trellis.run_chains AS
SELECT coalesce(r.retry_root, r.id) AS chain_id,
       w.name AS workflow,
       c.runs,
       r.id AS last_run_id,
       r.status::text AS status,
       c.first_created_at AS created_at,
       r.finished_at
FROM trellis.workflow_runs r
JOIN trellis.workflows w ON w.id = r.workflow_id
CROSS JOIN LATERAL (
    SELECT count(*) AS runs, min(m.created_at) AS first_created_at, max(m.created_at) AS last_created_at,
           max(m.id::text) FILTER (WHERE m.created_at = r.created_at) AS last_id
    FROM trellis.workflow_runs m
    WHERE m.id = coalesce(r.retry_root, r.id) OR m.retry_root = coalesce(r.retry_root, r.id)
) c
WHERE r.created_at = c.last_created_at AND r.id::text = c.last_id;

COMMENT ON VIEW trellis.run_chains IS 'One row per retry chain, by its latest run (docs/history.md).';
GRANT SELECT ON trellis.run_chains TO trellis_analyst;
