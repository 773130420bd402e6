-- Appends one event to a run's log: seq is taken from workflow_runs.last_seq under the
-- row lock this UPDATE takes (held to commit), so seq is gap-free and ordered per run.
-- The NOTIFY doorbell carries only "<run_id>:<seq>" (PROTOCOL.md).
CREATE OR REPLACE FUNCTION trellis.append_event(run uuid, event_type text, event_data jsonb DEFAULT '{}')
RETURNS bigint
LANGUAGE plpgsql AS $fn$
DECLARE
    next_seq bigint;
BEGIN
    UPDATE trellis.workflow_runs SET last_seq = last_seq + 1 WHERE id = run RETURNING last_seq INTO next_seq;
    INSERT INTO trellis.run_events (run_id, seq, type, data) VALUES (run, next_seq, event_type, coalesce(event_data, '{}'));
    PERFORM pg_notify('trellis_events', run::text || ':' || next_seq);
    RETURN next_seq;
END;
$fn$;
