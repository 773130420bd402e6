-- The workflows a listing covers for `principal_id`: just `workflow` when one is named
-- (its `view` required: 42501, unknown: TR404), else every workflow it may view.
CREATE OR REPLACE FUNCTION trellis.viewable_workflows(principal_id bigint, workflow text) RETURNS bigint[]
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
    wf_id bigint;
BEGIN
    IF workflow IS NOT NULL THEN
        wf_id := trellis.workflow_id(workflow);
        PERFORM trellis.require_privilege(principal_id, wf_id, 'view');
        RETURN ARRAY[wf_id];
    END IF;
    RETURN ARRAY(SELECT w.id FROM trellis.workflows w WHERE trellis.holds_privilege(principal_id, w.id, 'view'));
END;
$fn$;
