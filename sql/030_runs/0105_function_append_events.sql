-- Appends a batch of events, several runs at once, in one statement per step: each run's
-- counter is bumped once by its event count and the events take consecutive seqs in array
-- order, and each run gets one doorbell (`<run_id>:<newest seq>`). The hot path (claims,
-- completions) uses it instead of append_event per node.
-- The run rows are locked in id order first, so concurrent batches cannot deadlock.
CREATE OR REPLACE FUNCTION trellis.append_events(run_ids uuid[], event_types text[], event_data jsonb[])
RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
    notified bigint;
BEGIN
    IF coalesce(cardinality(run_ids), 0) = 0 THEN
        RETURN;
    END IF;
    PERFORM 1 FROM trellis.workflow_runs r WHERE r.id = ANY (run_ids) ORDER BY r.id FOR NO KEY UPDATE;
    WITH ev AS (
        SELECT u.run_id, u.type, u.data, u.ord
        FROM unnest(run_ids, event_types, event_data) WITH ORDINALITY AS u(run_id, type, data, ord)
    ), counts AS (
        SELECT ev.run_id, count(*) AS n FROM ev GROUP BY ev.run_id
    ), bumped AS (
        UPDATE trellis.workflow_runs w SET last_seq = w.last_seq + c.n
        FROM counts c WHERE w.id = c.run_id
        RETURNING w.id, w.last_seq - c.n AS base
    ), inserted AS (
        INSERT INTO trellis.run_events (run_id, seq, type, data)
        SELECT ev.run_id, b.base + row_number() OVER (PARTITION BY ev.run_id ORDER BY ev.ord), ev.type, coalesce(ev.data, '{}')
        FROM ev JOIN bumped b ON b.id = ev.run_id
        RETURNING run_events.run_id, run_events.seq
    )
    -- One doorbell per run per batch, naming its newest seq: readers take everything after
    -- their cursor anyway, and a NOTIFY per event cost as much as inserting the event.
    SELECT count(pg_notify('trellis_events', m.run_id::text || ':' || m.seq)) INTO notified
    FROM (SELECT i.run_id, max(i.seq) AS seq FROM inserted i GROUP BY i.run_id) m;
END;
$fn$;
