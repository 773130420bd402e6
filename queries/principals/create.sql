SELECT trellis.create_principal($1, $2, $3, $4::boolean, $5) AS id
