-- The node run a scheduler presents while its handler reads or stores artifacts: it must
-- still be running at `attempt` (the fencing token) and be claimed by `scheduler`, else
-- TR409 naming why — a handler whose lease was lost can neither read nor publish.
CREATE OR REPLACE FUNCTION trellis.held_node_run(scheduler bigint, node_run bigint, attempt integer) RETURNS trellis.node_runs
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
    nr trellis.node_runs;
    reason text;
BEGIN
    SELECT * INTO nr FROM trellis.node_runs n WHERE n.id = node_run;
    reason := trellis.stale_result_reason(nr.id, nr.status, nr.attempt, nr.scheduler_id, attempt, scheduler);
    IF reason IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'TR409', MESSAGE = format('node run %s: %s', node_run, reason);
    END IF;
    RETURN nr;
END;
$fn$;
