SELECT code, item, message FROM trellis.validate_workflow($1::jsonb)
