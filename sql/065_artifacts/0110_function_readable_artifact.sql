-- A finished artifact by its SHA-256, for `principal` to read: unknown (or still
-- uploading) TR404, not allowed 42501 — the same for the document and the bytes.
CREATE OR REPLACE FUNCTION trellis.readable_artifact(sha256 text, principal text) RETURNS trellis.artifacts
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
    who bigint := trellis.principal_id(principal);
    a trellis.artifacts;
BEGIN
    SELECT * INTO a FROM trellis.artifacts x WHERE x.sha256 = lower(readable_artifact.sha256);
    IF a.id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'TR404', MESSAGE = format('unknown artifact %s', readable_artifact.sha256);
    END IF;
    IF NOT trellis.may_read_artifact(who, a) THEN
        RAISE EXCEPTION USING ERRCODE = '42501',
            MESSAGE = format('principal "%s" may not read artifact %s (it reads artifacts it uploaded or that runs it may view reference)',
                             principal, a.sha256);
    END IF;
    RETURN a;
END;
$fn$;
