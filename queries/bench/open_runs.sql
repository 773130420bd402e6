-- Runs of one workflow not yet finished (through the partial index of active runs).
SELECT count(*) AS open FROM trellis.workflow_runs r
WHERE r.status IN ('queued', 'running', 'paused', 'waiting') AND r.workflow_id = trellis.workflow_id($1)
