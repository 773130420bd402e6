-- Finishes an artifact a handler stored, under the SHA-256 of its bytes (the same bytes
-- stored once), and records it as an output of the node's run: whoever may view the run
-- may read it, and it lives as long as a run references it. The fence is checked again —
-- a handler that lost its lease meanwhile publishes nothing. Returns {id, name,
-- media_type, size} and whether the bytes were new.
CREATE OR REPLACE FUNCTION trellis.finish_node_artifact(scheduler bigint, node_run bigint, attempt integer, artifact bigint, sha256 text)
RETURNS TABLE (document jsonb, created boolean)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, trellis, pg_temp AS $fn$
DECLARE
    nr trellis.node_runs := trellis.held_node_run(scheduler, node_run, attempt);
    upload bigint;
    completed record;
    done trellis.artifacts;
BEGIN
    SELECT a.id INTO upload FROM trellis.artifacts a
    WHERE a.id = artifact AND a.completed_at IS NULL AND a.node_run_id = nr.id FOR UPDATE;
    IF upload IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'TR404', MESSAGE = format('no artifact %s being stored for node run %s', artifact, node_run);
    END IF;
    SELECT * INTO completed FROM trellis.complete_artifact_upload(upload, sha256);
    done := completed.artifact;
    INSERT INTO trellis.artifact_refs (artifact_id, run_id, node_run_id, role)
    VALUES (done.id, nr.run_id, nr.id, 'output') ON CONFLICT DO NOTHING;
    UPDATE trellis.artifacts a SET referenced_at = now() WHERE a.id = done.id;
    RETURN QUERY SELECT jsonb_build_object('id', done.sha256, 'name', done.name, 'media_type', done.media_type, 'size', done.size), completed.created;
END;
$fn$;
