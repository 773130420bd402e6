-- A stream's start: `view` on the run (require_run_access: TR404 unknown, 42501 refused)
-- and where its log ends now, in one statement: a subscription storm (a relay restart,
-- a thousand clients back at once) pays one round trip per subscriber here, not two.
SELECT trellis.require_run_access($1::uuid, $2, 'view') AS status,
       (SELECT r.last_seq FROM trellis.workflow_runs r WHERE r.id = $1::uuid) AS last_seq
