-- Removes at most `max_artifacts` artifacts no run references: those some run referenced
-- once (retention removed the runs), and uploads no run ever took within
-- trellis.artifact_unused_days (7), with their chunks. Retention (apply_retention,
-- prune_runs) calls it after removing runs. Returns how many went.
CREATE OR REPLACE FUNCTION trellis.prune_artifacts(max_artifacts integer DEFAULT 100) RETURNS integer
LANGUAGE plpgsql AS $fn$
DECLARE
    gone bigint[];
BEGIN
    gone := ARRAY(
        SELECT a.id FROM trellis.artifacts a
        WHERE a.completed_at IS NOT NULL
          AND (a.referenced_at IS NOT NULL
               OR a.completed_at < now() - make_interval(days => trellis.setting('artifact_unused_days', 7)::integer))
          AND NOT EXISTS (SELECT 1 FROM trellis.artifact_refs f WHERE f.artifact_id = a.id)
        ORDER BY a.completed_at
        LIMIT greatest(coalesce(max_artifacts, 100), 1)
        FOR UPDATE SKIP LOCKED);
    DELETE FROM trellis.artifacts a WHERE a.id = ANY (gone);
    RETURN cardinality(gone);
END;
$fn$;
