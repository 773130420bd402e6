-- GET /v1/templates/{name}[?version=].
SELECT trellis.template_document($1, $2::integer, $3) AS document
