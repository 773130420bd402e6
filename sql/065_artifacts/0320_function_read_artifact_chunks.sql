-- Chunks `first`..`last` of a readable artifact, in order (a download streams them a few
-- at a time; a range request asks only for the chunks it covers).
CREATE OR REPLACE FUNCTION trellis.read_artifact_chunks(sha256 text, principal text, first integer, last integer)
RETURNS TABLE (seq integer, data bytea)
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
    a trellis.artifacts := trellis.readable_artifact(sha256, principal);
BEGIN
    RETURN QUERY SELECT c.seq, c.data FROM trellis.artifact_chunks c
                 WHERE c.artifact_id = a.id AND c.seq BETWEEN first AND last ORDER BY c.seq;
END;
$fn$;
