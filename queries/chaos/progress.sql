-- How far a chaos run has got, read four times a second while faults fly (the verdict's
-- checks, which take a second at 5,000 runs, are read once at the end): the runs started
-- and those not finished, and the attempts whose handler came back (not running, not
-- lost) — what paces the scheduler kills. $1 is the invocation's idempotency-key prefix.
WITH runs AS (
    SELECT r.id, r.finished_at FROM trellis.workflow_runs r WHERE starts_with(r.idempotency_key, $1::text)
)
SELECT (SELECT count(*) FROM runs) AS runs,
       (SELECT count(*) FROM runs WHERE finished_at IS NULL) AS unfinished,
       (SELECT count(*) FROM trellis.node_attempts a JOIN runs ON runs.id = a.run_id WHERE a.outcome NOT IN ('running', 'lost'))
           AS finished_attempts
