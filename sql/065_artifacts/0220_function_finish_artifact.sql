-- Finishes an upload under the SHA-256 the uploader computed over the bytes it sent. The
-- same bytes already stored: the upload is dropped and the existing artifact returned
-- (created = false) — content is stored once. Returns the artifact's document.
CREATE OR REPLACE FUNCTION trellis.finish_artifact(artifact bigint, sha256 text, principal text)
RETURNS TABLE (document jsonb, created boolean)
LANGUAGE plpgsql AS $fn$
DECLARE
    who bigint := trellis.principal_id(principal);
    upload trellis.artifacts;
    existing trellis.artifacts;
BEGIN
    IF finish_artifact.sha256 IS NULL OR finish_artifact.sha256 !~ '^[0-9a-f]{64}$' THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'sha256 must be 64 lower-case hex digits';
    END IF;
    SELECT * INTO upload FROM trellis.artifacts a WHERE a.id = artifact AND a.completed_at IS NULL AND a.created_by = who FOR UPDATE;
    IF upload.id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'TR404', MESSAGE = format('no upload %s in progress for "%s"', artifact, principal);
    END IF;
    SELECT * INTO existing FROM trellis.artifacts a WHERE a.sha256 = finish_artifact.sha256;
    IF existing.id IS NOT NULL THEN
        DELETE FROM trellis.artifacts a WHERE a.id = upload.id;
        RETURN QUERY SELECT trellis.artifact_document(existing, who), false;
        RETURN;
    END IF;
    UPDATE trellis.artifacts a SET sha256 = finish_artifact.sha256, completed_at = now() WHERE a.id = upload.id
    RETURNING * INTO upload;
    RETURN QUERY SELECT trellis.artifact_document(upload, who), true;
END;
$fn$;
