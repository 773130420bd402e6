-- GET /v1/tokens (administrators).
SELECT trellis.list_tokens($1, $2) AS document
