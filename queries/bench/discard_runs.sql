-- Removes a bench workflow's runs (their nodes, attempts and events go with them).
DELETE FROM trellis.workflow_runs r WHERE r.workflow_id = trellis.workflow_id($1)
