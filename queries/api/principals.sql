-- GET /v1/principals (administrators).
SELECT trellis.list_principals($1) AS document
