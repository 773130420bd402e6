SELECT trellis.list_workflow_runs($1, $2, $3, $4::integer, $5::integer) AS runs
