-- Chunks `first`..`last` of an artifact a handler may read (node_artifact), in order.
CREATE OR REPLACE FUNCTION trellis.read_node_artifact_chunks(scheduler bigint, node_run bigint, attempt integer, sha256 text,
                                                             first integer, last integer)
RETURNS TABLE (seq integer, data bytea)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, trellis, pg_temp AS $fn$
DECLARE
    a trellis.artifacts := trellis.node_artifact(scheduler, node_run, attempt, sha256);
BEGIN
    RETURN QUERY SELECT c.seq, c.data FROM trellis.artifact_chunks c
                 WHERE c.artifact_id = a.id AND c.seq BETWEEN first AND last ORDER BY c.seq;
END;
$fn$;
