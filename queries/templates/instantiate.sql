SELECT workflow, version, checksum, created
FROM trellis.instantiate_template($1, $2::jsonb, $3, $4, $5::integer)
