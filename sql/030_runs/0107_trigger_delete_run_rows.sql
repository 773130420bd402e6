-- Deleting runs (retention, `trellis prune`) deletes what they left in the tables the hot
-- path keeps without a foreign key to them: their events (migration 0013), attempts
-- (migration 0022) and node runs (migration 0025; their approvals go by the approvals'
-- own keys). It does what the keys' ON DELETE CASCADE did, once per statement rather than
-- per row, through the events' primary key, node_attempts_run_idx and node_runs_unique_item.
-- It replaces the one trigger per table of earlier versions.
DROP TRIGGER IF EXISTS workflow_runs_delete_events ON trellis.workflow_runs;
DROP TRIGGER IF EXISTS workflow_runs_delete_attempts ON trellis.workflow_runs;
DROP FUNCTION IF EXISTS trellis.delete_run_events();
DROP FUNCTION IF EXISTS trellis.delete_run_attempts();

CREATE OR REPLACE FUNCTION trellis.delete_run_rows() RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE
    runs uuid[] := ARRAY(SELECT g.id FROM gone g);
BEGIN
    DELETE FROM trellis.run_events e WHERE e.run_id = ANY (runs);
    DELETE FROM trellis.node_attempts a WHERE a.run_id = ANY (runs);
    DELETE FROM trellis.node_runs n WHERE n.run_id = ANY (runs);
    RETURN NULL;
END;
$fn$;

CREATE OR REPLACE TRIGGER workflow_runs_delete_rows
    AFTER DELETE ON trellis.workflow_runs
    REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION trellis.delete_run_rows();
