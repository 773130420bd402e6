-- GET /v1/workflows/{name}[/versions/{v}]: a version with its definition and graph.
SELECT trellis.workflow_document($1, $2::integer, $3) AS document
