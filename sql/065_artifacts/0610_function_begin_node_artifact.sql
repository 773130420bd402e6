-- Starts an artifact a handler stores for the node run it holds (see held_node_run); the
-- chunks follow (append_node_artifact_chunk) and finish_node_artifact names it, all in one
-- transaction. Its creator is the run's starter. For trellis_scheduler, which has no
-- table access: SECURITY DEFINER.
CREATE OR REPLACE FUNCTION trellis.begin_node_artifact(scheduler bigint, node_run bigint, attempt integer, name text, media_type text)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, trellis, pg_temp AS $fn$
DECLARE
    nr trellis.node_runs := trellis.held_node_run(scheduler, node_run, attempt);
    created bigint;
BEGIN
    INSERT INTO trellis.artifacts (name, media_type, created_by, node_run_id)
    VALUES (coalesce(begin_node_artifact.name, ''), coalesce(nullif(begin_node_artifact.media_type, ''), 'application/octet-stream'),
            (SELECT r.started_by FROM trellis.workflow_runs r WHERE r.id = nr.run_id), nr.id)
    RETURNING id INTO created;
    RETURN created;
END;
$fn$;
