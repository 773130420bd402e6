-- A node failed for good (no attempts left, rejected, bad items…): its `on_error`
-- decides. `continue`: it settles failed with {"error": …} as output and the run goes on
-- (downstream can bind $node.error.message); `fail`: it settles failed and fails the run.
-- Returns 'continued' or 'failed_run'.
CREATE OR REPLACE FUNCTION trellis.settle_failed(node_run_id bigint, failure jsonb) RETURNS text
LANGUAGE plpgsql AS $fn$
DECLARE
    nr trellis.node_runs;
BEGIN
    SELECT * INTO nr FROM trellis.node_runs n WHERE n.id = node_run_id;
    IF (SELECT wn.on_error FROM trellis.workflow_nodes wn WHERE wn.id = nr.node_id) = 'continue' THEN
        PERFORM trellis.settle_node(nr.id, 'failed', jsonb_build_object('error', failure), failure);
        RETURN 'continued';
    END IF;
    PERFORM trellis.settle_node(nr.id, 'failed', NULL, failure);
    PERFORM trellis.fail_run(nr.run_id, nr.node_key, failure);
    RETURN 'failed_run';
END;
$fn$;
