-- A node failed with on_error = fail: record why, cancel every node run that is not yet
-- terminal (running ones are told through NOTIFY trellis_cancel and their late results
-- are refused), and let advance_run finish the run as failed.
CREATE OR REPLACE FUNCTION trellis.fail_run(run uuid, node_key text, node_error jsonb) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
    UPDATE trellis.workflow_runs
    SET failed_node = coalesce(failed_node, node_key),
        error = coalesce(error, jsonb_build_object('node_key', node_key) || coalesce(node_error, '{}'::jsonb))
    WHERE id = run;
    PERFORM trellis.cancel_open_nodes(run);
END;
$fn$;
