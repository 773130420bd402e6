-- Appends the next chunk of an upload begun by `principal` (chunks come in order, from 0).
CREATE OR REPLACE FUNCTION trellis.append_artifact_chunk(artifact bigint, seq integer, data bytea, principal text) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
    UPDATE trellis.artifacts a SET size = a.size + length(data)
    WHERE a.id = artifact AND a.completed_at IS NULL AND a.created_by = trellis.principal_id(principal);
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'TR404', MESSAGE = format('no upload %s in progress for "%s"', artifact, principal);
    END IF;
    INSERT INTO trellis.artifact_chunks (artifact_id, seq, data) VALUES (artifact, seq, data);
END;
$fn$;
