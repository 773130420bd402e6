-- Starts an upload: an artifact row without a hash yet, for chunks to be appended to
-- (append_artifact_chunk) and the upload finished (finish_artifact) in the same
-- transaction — an upload that fails leaves nothing.
CREATE OR REPLACE FUNCTION trellis.begin_artifact(name text, media_type text, principal text) RETURNS bigint
LANGUAGE plpgsql AS $fn$
DECLARE
    created bigint;
BEGIN
    INSERT INTO trellis.artifacts (name, media_type, created_by)
    VALUES (coalesce(begin_artifact.name, ''), coalesce(nullif(begin_artifact.media_type, ''), 'application/octet-stream'),
            trellis.principal_id(principal))
    RETURNING id INTO created;
    RETURN created;
END;
$fn$;
