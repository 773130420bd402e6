SELECT trellis.register_scheduler($1, $2::text[], $3::integer, $4, $5::integer, $6) AS id
