-- GET /v1/templates.
SELECT trellis.list_templates($1) AS document
