-- Finishes an upload under the SHA-256 the uploader computed over the bytes it sent. The
-- same bytes already stored: the upload is dropped and the existing artifact returned
-- (created = false) — content is stored once. Returns the artifact's document.
CREATE OR REPLACE FUNCTION trellis.finish_artifact(artifact bigint, sha256 text, principal text)
RETURNS TABLE (document jsonb, created boolean)
LANGUAGE plpgsql AS $fn$
DECLARE
    who bigint := trellis.principal_id(principal);
    upload bigint;
BEGIN
    SELECT a.id INTO upload FROM trellis.artifacts a
    WHERE a.id = artifact AND a.completed_at IS NULL AND a.created_by = who FOR UPDATE;
    IF upload IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'TR404', MESSAGE = format('no upload %s in progress for "%s"', artifact, principal);
    END IF;
    RETURN QUERY SELECT trellis.artifact_document(c.artifact, who), c.created
                 FROM trellis.complete_artifact_upload(upload, sha256) c;
END;
$fn$;
