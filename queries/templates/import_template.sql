SELECT name, version, checksum, created FROM trellis.import_template($1::jsonb, $2)
