-- Resolves a workflow by name; unknown: TR404.
CREATE OR REPLACE FUNCTION trellis.workflow_id(workflow text) RETURNS bigint
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
    found_id bigint;
BEGIN
    SELECT id INTO found_id FROM trellis.workflows WHERE name = workflow;
    IF found_id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'TR404', MESSAGE = format('unknown workflow "%s"', workflow);
    END IF;
    RETURN found_id;
END;
$fn$;
