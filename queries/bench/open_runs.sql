-- Runs of one workflow not yet finished (through the partial index of open runs).
SELECT count(*) AS open FROM trellis.workflow_runs r
WHERE r.finished_at IS NULL AND r.workflow_id = trellis.workflow_id($1)
