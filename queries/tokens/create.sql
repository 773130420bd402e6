SELECT trellis.create_token($1, decode($2, 'hex'), $3, $4, $5::timestamptz, $6) AS id
