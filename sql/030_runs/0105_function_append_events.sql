-- Appends a batch of events, several runs at once, in one statement per step: each run's
-- counter is bumped once by its event count and the events take consecutive seqs in array
-- order, and each run gets one doorbell (`<run_id>:<newest seq>`). Transitions off the hot
-- path use it (settle_nodes, report_progress); claims and successful results write their
-- runs' rows and events themselves (claim_nodes, settle_succeeded).
-- The same UPDATE moves the run's remaining-node counter (`settled_runs[i]` loses
-- `settled_counts[i]`), so a run row is written once per batch, not once per change (every
-- further update of a row the transaction already wrote is a new tuple, new entries in
-- each of its indexes, and its foreign-key checks again). `settled_runs` must name runs
-- that get events in this call. The run rows are locked in id order first, so concurrent
-- batches cannot deadlock.
-- Its callers' plans are generic and kept for the session, so a plan made on near-empty
-- tables must not go wrong on many: the run rows are read under their own key condition
-- (`= ANY (run_ids)`), and the batch-sized lists are joined by hash, never nested (a
-- nested loop of two lists compares every pair: 10,000 at a batch of 100, as a plan made
-- on a few rows did).
DROP FUNCTION IF EXISTS trellis.append_events(uuid[], text[], jsonb[]);
DROP FUNCTION IF EXISTS trellis.append_events(uuid[], text[], jsonb[], uuid[], uuid[], bigint[]);
DROP FUNCTION IF EXISTS trellis.append_events(uuid[], text[], jsonb[], uuid[], uuid[], bigint[], uuid[]);
DROP FUNCTION IF EXISTS trellis.append_events(uuid[], text[], jsonb[], uuid[], uuid[], bigint[], uuid[], uuid[]);
CREATE OR REPLACE FUNCTION trellis.append_events(run_ids uuid[], event_types text[], event_data jsonb[],
                                                 settled_runs uuid[] DEFAULT '{}', settled_counts bigint[] DEFAULT '{}')
RETURNS void
LANGUAGE plpgsql
-- jit off: with nested loops priced out, a plan that needs one costs over 10^10, far
-- above jit_above_cost — called from a session with jit on (an API call that settles a
-- node), every statement was JIT-compiled, about 1 s per call.
-- Generic plans, made once per session, whoever calls: with nested loops off, a generic plan
-- carries their cost penalty wherever a custom plan can avoid it, so PostgreSQL judged it
-- dearer after five custom plans and planned afresh on every call — 1.7 ms of planning per
-- call from callers that do not force generic plans (report_progress, approvals, cancels).
-- Its own search_path: a cached plan is made again whenever the caller's path differs from
-- the one it was made under (the SECURITY DEFINER scheduler functions' and an API session's).
SET search_path = pg_catalog, trellis, pg_temp SET enable_nestloop = off SET jit = off
SET plan_cache_mode = force_generic_plan AS $fn$
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
    ), settled AS (
        SELECT s.run_id, sum(s.n) AS n FROM unnest(settled_runs, settled_counts) AS s(run_id, n) GROUP BY s.run_id
    ), bumped AS (
        UPDATE trellis.workflow_runs w
        SET last_seq = w.last_seq + c.n, nodes_remaining = w.nodes_remaining - coalesce(st.n, 0)
        FROM counts c LEFT JOIN settled st ON st.run_id = c.run_id
        WHERE w.id = c.run_id AND w.id = ANY (run_ids)
        RETURNING w.id, w.last_seq, c.n
    ), inserted AS (
        INSERT INTO trellis.run_events (run_id, seq, type, data)
        SELECT ev.run_id, b.last_seq - b.n + row_number() OVER (PARTITION BY ev.run_id ORDER BY ev.ord),
               ev.type, coalesce(ev.data, '{}')
        FROM ev JOIN bumped b ON b.id = ev.run_id
    )
    -- One doorbell per run per batch, naming its newest seq: readers take everything after
    -- their cursor anyway, and a NOTIFY per event cost as much as inserting the event.
    SELECT count(pg_notify('trellis_events', b.id::text || ':' || b.last_seq)) INTO notified FROM bumped b;
END;
$fn$;
