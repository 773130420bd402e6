-- A finished run again as a new run linked to it ($3: from_failed | all).
SELECT run_id, status, reused FROM trellis.retry_run($1::uuid, $2, $3)
