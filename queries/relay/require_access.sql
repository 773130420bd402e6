SELECT trellis.require_run_access($1::uuid, $2, $3) AS status
