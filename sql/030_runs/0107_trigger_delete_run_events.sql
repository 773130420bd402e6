-- Deleting runs (retention, `trellis prune`) deletes their events: what the foreign key's
-- ON DELETE CASCADE did before migration 0013, once per statement rather than per row,
-- by the events' primary key.
CREATE OR REPLACE FUNCTION trellis.delete_run_events() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    DELETE FROM trellis.run_events e WHERE e.run_id = ANY (ARRAY(SELECT g.id FROM gone g));
    RETURN NULL;
END;
$fn$;

CREATE OR REPLACE TRIGGER workflow_runs_delete_events
    AFTER DELETE ON trellis.workflow_runs
    REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION trellis.delete_run_events();
