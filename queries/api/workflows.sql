-- GET /v1/workflows: workflows the principal may view.
SELECT trellis.list_workflows($1) AS document
