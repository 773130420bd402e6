-- Deleting scheduler rows (by hand: Trellis keeps them as history) clears the node runs'
-- and attempts' references to them, as the foreign keys' ON DELETE SET NULL did before
-- migration 0022; the attempts keep the scheduler's name.
CREATE OR REPLACE FUNCTION trellis.forget_schedulers() RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE
    schedulers bigint[] := ARRAY(SELECT g.id FROM gone g);
BEGIN
    UPDATE trellis.node_runs n SET scheduler_id = NULL WHERE n.scheduler_id = ANY (schedulers);
    UPDATE trellis.node_attempts a SET scheduler_id = NULL WHERE a.scheduler_id = ANY (schedulers);
    RETURN NULL;
END;
$fn$;

CREATE OR REPLACE TRIGGER schedulers_forget
    AFTER DELETE ON trellis.schedulers
    REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION trellis.forget_schedulers();
