SELECT trellis.expire_approvals($1::integer) AS expired
