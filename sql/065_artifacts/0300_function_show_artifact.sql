-- One artifact's document (readable_artifact decides who may see it).
CREATE OR REPLACE FUNCTION trellis.show_artifact(sha256 text, principal text) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $fn$
BEGIN
    RETURN trellis.artifact_document(trellis.readable_artifact(sha256, principal), trellis.principal_id(principal));
END;
$fn$;
