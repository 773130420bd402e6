-- A principal who started runs cannot be deleted: the runs' history names who started
-- them. workflow_runs keeps no foreign key to principals (a check on
-- every run start, migration 0025); this statement trigger refuses the delete instead,
-- with the same SQLSTATE the key raised. Deleting principals is rare and administrative,
-- so the check may read the run table whole.
CREATE OR REPLACE FUNCTION trellis.keep_run_starters() RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE
    starter text;
BEGIN
    SELECT g.name INTO starter FROM gone g
    WHERE EXISTS (SELECT 1 FROM trellis.workflow_runs r WHERE r.started_by = g.id)
    LIMIT 1;
    IF starter IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = '23503', TABLE = 'principals',
            MESSAGE = format('principal "%s" started runs and cannot be deleted (the run history names it)', starter);
    END IF;
    RETURN NULL;
END;
$fn$;

CREATE OR REPLACE TRIGGER principals_keep_run_starters
    AFTER DELETE ON trellis.principals
    REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION trellis.keep_run_starters();
