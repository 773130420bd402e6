-- GET /v1/runs/{id}/nodes/{key}: one node run in detail.
SELECT trellis.node_run_detail($1::uuid, $2, $3, $4::integer) AS document
