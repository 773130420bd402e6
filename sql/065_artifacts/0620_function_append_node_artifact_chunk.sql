-- Appends the next chunk of an artifact a handler is storing (begin_node_artifact, same
-- transaction: no other session sees the upload, so the upload's id is its capability).
CREATE OR REPLACE FUNCTION trellis.append_node_artifact_chunk(artifact bigint, seq integer, data bytea) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, trellis, pg_temp AS $fn$
BEGIN
    UPDATE trellis.artifacts a SET size = a.size + length(data)
    WHERE a.id = artifact AND a.completed_at IS NULL AND a.node_run_id IS NOT NULL;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'TR404', MESSAGE = format('no node artifact %s being stored', artifact);
    END IF;
    INSERT INTO trellis.artifact_chunks (artifact_id, seq, data) VALUES (artifact, seq, data);
END;
$fn$;
