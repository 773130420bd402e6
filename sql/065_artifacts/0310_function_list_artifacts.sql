-- The finished artifacts `principal` may read, newest first, at most `max_items`.
CREATE OR REPLACE FUNCTION trellis.list_artifacts(principal text, max_items integer DEFAULT 100) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
    who bigint := trellis.principal_id(principal);
BEGIN
    IF max_items IS NULL OR max_items NOT BETWEEN 1 AND 1000 THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('limit must be 1 to 1000, got %s', max_items);
    END IF;
    RETURN (SELECT coalesce(jsonb_agg(trellis.artifact_document(a, who) ORDER BY a.completed_at DESC, a.id DESC), '[]'::jsonb)
            FROM (SELECT * FROM trellis.artifacts a WHERE a.completed_at IS NOT NULL AND trellis.may_read_artifact(who, a)
                  ORDER BY a.completed_at DESC, a.id DESC LIMIT max_items) a);
END;
$fn$;
