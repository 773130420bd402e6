-- The whole value of a node output stored as an artifact because it was over the inline
-- cap (the scheduler stores it as JSON text and reports a reference with "truncated":
-- true). NULL when there is no such artifact. Reads and parses the whole artifact: used
-- only for bindings with a path into such an output.
CREATE OR REPLACE FUNCTION trellis.stored_output(sha256 text) RETURNS jsonb
LANGUAGE sql STABLE AS $fn$
    SELECT convert_from(string_agg(c.data, ''::bytea ORDER BY c.seq), 'UTF8')::jsonb
    FROM trellis.artifacts a JOIN trellis.artifact_chunks c ON c.artifact_id = a.id
    WHERE a.sha256 = stored_output.sha256 AND a.media_type = 'application/json'
$fn$;
