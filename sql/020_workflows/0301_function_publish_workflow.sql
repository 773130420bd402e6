-- The public entry point: publish as the principal named `author`.
CREATE OR REPLACE FUNCTION trellis.publish_workflow(definition jsonb, author text DEFAULT 'admin')
RETURNS TABLE (workflow text, version integer, checksum text, created boolean)
LANGUAGE sql AS $fn$
    SELECT * FROM trellis.publish_definition(definition, trellis.principal_id(author))
$fn$;
