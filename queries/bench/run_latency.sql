-- Enqueue → finished per run of one workflow, in milliseconds, ascending; and the span
-- from the first enqueue to the last finish.
SELECT extract(epoch FROM r.finished_at - r.created_at) * 1000 AS ms,
       extract(epoch FROM max(r.finished_at) OVER () - min(r.created_at) OVER ()) AS span
FROM trellis.workflow_runs r
WHERE r.workflow_id = trellis.workflow_id($1) AND r.finished_at IS NOT NULL
ORDER BY ms
