SELECT trellis.list_approvals($1, $2, $3::integer) AS approvals
