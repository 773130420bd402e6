-- The status a node run takes when it may be claimed again (a retry, a released or
-- resumed attempt, the next item of a parallel node, an answered question): `ready`, or
-- `held` while its run is paused (resume_run makes held nodes ready).
CREATE OR REPLACE FUNCTION trellis.ready_status(run uuid) RETURNS text
LANGUAGE sql STABLE AS $fn$
    SELECT CASE WHEN (SELECT r.status FROM trellis.workflow_runs r WHERE r.id = run) = 'paused' THEN 'held' ELSE 'ready' END
$fn$;
