-- Locks the runs of a batch's node runs ([{"id": …}, …]) in run-id order, before any node
-- row: the order control operations (cancel, pause, decide) take them, so a batch never
-- waits on a run while holding its nodes. Used by complete_nodes, fail_nodes and
-- report_progress.
CREATE OR REPLACE FUNCTION trellis.lock_runs_of_items(items jsonb) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
    -- Arrays, not IN (subquery): the planner then walks the primary keys for the few ids
    -- instead of estimating a semi-join (which chose a sequential scan of node_runs).
    PERFORM 1 FROM trellis.workflow_runs r
    WHERE r.id = ANY (ARRAY(SELECT n.run_id FROM trellis.node_runs n
                            WHERE n.id = ANY (ARRAY(SELECT (e ->> 'id')::bigint FROM jsonb_array_elements(items) AS e))))
    ORDER BY r.id FOR NO KEY UPDATE;
END;
$fn$;
