SELECT workflow, version, checksum, created FROM trellis.publish_workflow($1::jsonb, $2)
