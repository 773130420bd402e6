-- Cancels every node run of `run` that is not terminal yet: running handlers are told
-- (NOTIFY trellis_cancel '<node_run_id>') and their attempts recorded as cancelled; a
-- late result presents a stale attempt and is refused.
CREATE OR REPLACE FUNCTION trellis.cancel_open_nodes(run uuid) RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
    victim trellis.node_runs;
BEGIN
    FOR victim IN
        SELECT * FROM trellis.node_runs n
        WHERE n.run_id = run AND n.status IN ('pending', 'ready', 'held', 'running', 'waiting')
        ORDER BY n.id FOR UPDATE
    LOOP
        IF victim.status = 'running' THEN
            UPDATE trellis.node_attempts SET outcome = 'cancelled', finished_at = now()
            WHERE node_run_id = victim.id AND attempt = victim.attempt;
            PERFORM pg_notify('trellis_cancel', victim.id::text);
        END IF;
        IF victim.status = 'waiting' THEN
            UPDATE trellis.approvals SET status = 'expired', decided_at = now(), comment = 'run ended before a decision'
            WHERE node_run_id = victim.id AND status = 'pending';
        END IF;
        UPDATE trellis.node_runs SET status = 'cancelled', finished_at = now(), lease_expires_at = NULL WHERE id = victim.id;
        IF victim.parent_id IS NULL THEN
            -- nodes_remaining counts top-level nodes; items of a parallel node do not.
            UPDATE trellis.workflow_runs SET nodes_remaining = nodes_remaining - 1 WHERE id = run;
            PERFORM trellis.append_event(run, 'node.finished', jsonb_build_object(
                'node_key', victim.node_key, 'node_run_id', victim.id, 'attempt', victim.attempt, 'status', 'cancelled'));
        END IF;
    END LOOP;
END;
$fn$;
