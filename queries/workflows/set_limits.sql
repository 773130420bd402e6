SELECT max_concurrent_runs, max_concurrent_nodes FROM trellis.set_workflow_limits($1, $2::integer, $3::integer, $4)
