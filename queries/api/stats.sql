-- GET /v1/stats: workflow_stats over the workflows the principal may view.
SELECT trellis.visible_workflow_stats($1, $2, $3) AS document
