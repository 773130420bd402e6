-- GET /v1/workflows/{name}/versions.
SELECT trellis.list_workflow_versions($1, $2) AS document
