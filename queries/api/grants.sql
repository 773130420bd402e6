-- GET /v1/grants (administrators).
SELECT trellis.list_grants($1, $2) AS document
