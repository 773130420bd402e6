-- GET /v1/runs: runs across workflows, filtered, one keyset page.
SELECT trellis.list_runs($1, $2, $3, $4, $5, $6, $7::integer, $8) AS document
