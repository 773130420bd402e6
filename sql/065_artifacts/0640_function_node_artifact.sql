-- An artifact a handler may read: one its node's run references (an input, or an output
-- of any of the run's nodes), presented with the node run it holds (held_node_run).
-- Unknown TR404; not referenced by the run 42501.
CREATE OR REPLACE FUNCTION trellis.node_artifact(scheduler bigint, node_run bigint, attempt integer, sha256 text)
RETURNS trellis.artifacts
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, trellis, pg_temp AS $fn$
DECLARE
    nr trellis.node_runs := trellis.held_node_run(scheduler, node_run, attempt);
    a trellis.artifacts;
BEGIN
    SELECT * INTO a FROM trellis.artifacts x WHERE x.sha256 = lower(node_artifact.sha256);
    IF a.id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'TR404', MESSAGE = format('unknown artifact %s', node_artifact.sha256);
    END IF;
    IF NOT EXISTS (SELECT 1 FROM trellis.artifact_refs f WHERE f.artifact_id = a.id AND f.run_id = nr.run_id) THEN
        RAISE EXCEPTION USING ERRCODE = '42501',
            MESSAGE = format('run %s does not reference artifact %s (a handler reads its run''s input artifacts and its nodes'' outputs)',
                             nr.run_id, a.sha256);
    END IF;
    RETURN a;
END;
$fn$;
