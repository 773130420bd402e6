-- Per workflow and version, over the runs created in [since, until): how many, how they
-- ended, duration percentiles of finished runs (created → finished, interpolated like
-- percentile_cont), mean and total cost, the node that failed most often, and the model
-- tokens in and out its llm nodes used.
-- A view cannot take a window, so this is a read-only function analysts call like a
-- table: SELECT * FROM trellis.workflow_stats(now() - interval '30 days').
-- SECURITY DEFINER so trellis_analyst (no base-table access) can use it; it only reads.
DROP FUNCTION IF EXISTS trellis.workflow_stats(timestamptz, timestamptz);
CREATE OR REPLACE FUNCTION trellis.workflow_stats(since timestamptz DEFAULT now() - interval '7 days',
                                                  until timestamptz DEFAULT now())
RETURNS TABLE (workflow text, version integer, runs bigint, succeeded bigint, failed bigint, cancelled bigint,
               unfinished bigint, success_rate numeric, p50_ms numeric, p95_ms numeric, p99_ms numeric,
               mean_cost numeric, total_cost numeric, most_failing_node text, most_failing_node_failures bigint,
               tokens_in numeric, tokens_out numeric)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
    WITH window_runs AS (
        SELECT r.id, r.workflow_id, r.version_id, r.status, r.total_cost,
               extract(epoch FROM r.finished_at - r.created_at) * 1000 AS ms
        FROM trellis.workflow_runs r
        WHERE r.created_at >= since AND r.created_at < until
    ), per_version AS (
        SELECT wr.workflow_id, wr.version_id,
               count(*) AS runs,
               count(*) FILTER (WHERE wr.status = 'succeeded') AS succeeded,
               count(*) FILTER (WHERE wr.status = 'failed') AS failed,
               count(*) FILTER (WHERE wr.status = 'cancelled') AS cancelled,
               count(*) FILTER (WHERE wr.ms IS NULL) AS unfinished,
               percentile_cont(0.50) WITHIN GROUP (ORDER BY wr.ms) AS p50,
               percentile_cont(0.95) WITHIN GROUP (ORDER BY wr.ms) AS p95,
               percentile_cont(0.99) WITHIN GROUP (ORDER BY wr.ms) AS p99,
               avg(wr.total_cost) AS mean_cost,
               sum(wr.total_cost) AS total_cost
        FROM window_runs wr
        GROUP BY wr.workflow_id, wr.version_id
    ), tokens AS (
        SELECT wr.version_id, sum(at.tokens_in) AS tokens_in, sum(at.tokens_out) AS tokens_out
        FROM window_runs wr JOIN trellis.node_attempts at ON at.run_id = wr.id
        WHERE at.tokens_in IS NOT NULL OR at.tokens_out IS NOT NULL
        GROUP BY wr.version_id
    ), node_failures AS (
        SELECT DISTINCT ON (wr.version_id) wr.version_id, nr.node_key, count(*) AS failures
        FROM window_runs wr
        JOIN trellis.node_runs nr ON nr.run_id = wr.id AND nr.parent_id IS NULL AND nr.status = 'failed'
        GROUP BY wr.version_id, nr.node_key
        ORDER BY wr.version_id, count(*) DESC, nr.node_key
    )
    SELECT w.name, v.version, pv.runs, pv.succeeded, pv.failed, pv.cancelled, pv.unfinished,
           round(pv.succeeded::numeric / nullif(pv.runs - pv.unfinished, 0), 4),
           round(pv.p50::numeric, 1), round(pv.p95::numeric, 1), round(pv.p99::numeric, 1),
           round(pv.mean_cost, 6), pv.total_cost, nf.node_key, nf.failures, tk.tokens_in, tk.tokens_out
    FROM per_version pv
    JOIN trellis.workflows w ON w.id = pv.workflow_id
    JOIN trellis.workflow_versions v ON v.id = pv.version_id
    LEFT JOIN node_failures nf ON nf.version_id = pv.version_id
    LEFT JOIN tokens tk ON tk.version_id = pv.version_id
    ORDER BY w.name, v.version
$fn$;

REVOKE EXECUTE ON FUNCTION trellis.workflow_stats(timestamptz, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION trellis.workflow_stats(timestamptz, timestamptz) TO trellis_analyst, trellis_admin;
