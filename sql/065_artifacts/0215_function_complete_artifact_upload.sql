-- Names a finished upload by the SHA-256 of its bytes. When the same bytes are stored
-- already, the upload is dropped and the existing artifact returned (created = false):
-- content is stored once. Shared by uploads through the API (finish_artifact) and by
-- handlers (finish_node_artifact).
CREATE OR REPLACE FUNCTION trellis.complete_artifact_upload(upload bigint, sha256 text)
RETURNS TABLE (artifact trellis.artifacts, created boolean)
LANGUAGE plpgsql AS $fn$
DECLARE
    existing trellis.artifacts;
    done trellis.artifacts;
BEGIN
    IF complete_artifact_upload.sha256 IS NULL OR complete_artifact_upload.sha256 !~ '^[0-9a-f]{64}$' THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'sha256 must be 64 lower-case hex digits';
    END IF;
    SELECT * INTO existing FROM trellis.artifacts a WHERE a.sha256 = complete_artifact_upload.sha256;
    IF existing.id IS NOT NULL THEN
        DELETE FROM trellis.artifacts a WHERE a.id = upload;
        RETURN QUERY SELECT existing, false;
        RETURN;
    END IF;
    UPDATE trellis.artifacts a SET sha256 = complete_artifact_upload.sha256, completed_at = now() WHERE a.id = upload
    RETURNING * INTO done;
    RETURN QUERY SELECT done, true;
END;
$fn$;
