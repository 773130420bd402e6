-- Deleting runs (retention, `trellis prune`) deletes their node attempts: what the
-- attempts' foreign keys' ON DELETE CASCADE did before migration 0022, once per
-- statement rather than per row, through node_attempts_run_idx.
CREATE OR REPLACE FUNCTION trellis.delete_run_attempts() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    DELETE FROM trellis.node_attempts a WHERE a.run_id = ANY (ARRAY(SELECT g.id FROM gone g));
    RETURN NULL;
END;
$fn$;

CREATE OR REPLACE TRIGGER workflow_runs_delete_attempts
    AFTER DELETE ON trellis.workflow_runs
    REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION trellis.delete_run_attempts();
