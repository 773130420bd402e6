SELECT r.finished_at IS NOT NULL AS finished FROM trellis.workflow_runs r WHERE r.id = $1::uuid
