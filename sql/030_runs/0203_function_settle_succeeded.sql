-- Settles a batch of successful results of top-level nodes (the common completion: every
-- result but a parallel node's children's) in two statements where the general path
-- (settle_nodes, then append_events) took six and built the events as arrays only to
-- unnest them again. node_run_ids are in (run, id) order with each one's run in run_ids;
-- the caller holds the run rows' and the node rows' locks (complete_nodes) and has
-- judged every result against its fencing token.
-- The first statement records the attempts' outcome and settles the node rows. The
-- second reads each settled row back by key (the update is visible to it), moves its
-- run's counters, and appends node.finished and node.output per node in array order with
-- seqs after the run row's last_seq; one doorbell per run names its newest seq. A run
-- whose last nodes these were and whose settled nodes have no dependents (not in
-- `moving`: one-node runs, a fan-out's last leaves) ends in that same update of its row
-- (status, output and cost as finish_runs sets them, run_result reading the settled
-- rows), run.finished its last event. Runs of `moving` then pass the outcomes on to
-- their dependents (pass_to_dependents); the caller moves them on (advance_run), which
-- ends them when nothing is left.
-- Each run row is read by a lookup per settled node (the planner cannot turn it into a
-- join) and updated by the ctid that lookup read, so no two batch-sized lists are ever
-- joined. Runs with its caller's settings (complete_nodes: generic plans, no sequential
-- scans, no jit) and has none of its own: a function-level SET is paid on every call.
CREATE OR REPLACE FUNCTION trellis.settle_succeeded(node_run_ids bigint[], run_ids uuid[], attempt_numbers integer[],
                                                    node_outputs jsonb[], added_costs numeric[], used_in bigint[],
                                                    used_out bigint[], moving uuid[])
RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
    notified bigint;
BEGIN
    WITH attempts AS (
        UPDATE trellis.node_attempts a SET outcome = 'succeeded', finished_at = now(), cost = r.cost,
                                           tokens_in = r.used_in, tokens_out = r.used_out
        FROM unnest(node_run_ids, attempt_numbers, added_costs, used_in, used_out) AS r(id, attempt, cost, used_in, used_out)
        WHERE a.node_run_id = r.id AND a.attempt = r.attempt
    )
    UPDATE trellis.node_runs n
    SET status = 'succeeded', output = s.output, error = NULL, finished_at = now(), lease_expires_at = NULL,
        cost = n.cost + coalesce(s.cost, 0)
    FROM unnest(node_run_ids, node_outputs, added_costs) AS s(id, output, cost)
    WHERE n.id = s.id;

    WITH settled AS (
        SELECT u.ord, n.run_id, n.id, n.node_key, n.attempt, n.status, n.started_at, n.finished_at, n.output, n.cost,
               n.error, n.reused_from, coalesce(octet_length(n.output::text), 0) AS bytes,
               1 + (n.output IS NOT NULL)::int AS events, r.row, r.last_seq, r.nodes_remaining, r.finished_at AS run_finished_at
        FROM unnest(node_run_ids, run_ids) WITH ORDINALITY AS u(id, run_id, ord)
        CROSS JOIN LATERAL (SELECT n.* FROM trellis.node_runs n WHERE n.id = u.id OFFSET 0) n
        CROSS JOIN LATERAL (SELECT r.ctid AS row, r.last_seq, r.nodes_remaining, r.finished_at
                            FROM trellis.workflow_runs r WHERE r.id = u.run_id OFFSET 0) r
    ), placed AS (
        -- Each node's events end at `upto` within its run's new events; the run's first
        -- settled node (place 1) carries the run's totals.
        SELECT s.*, sum(s.events) OVER (PARTITION BY s.run_id ORDER BY s.ord) AS upto,
               sum(s.events) OVER (PARTITION BY s.run_id) AS run_events,
               count(*) OVER (PARTITION BY s.run_id) AS run_settled,
               row_number() OVER (PARTITION BY s.run_id ORDER BY s.ord) AS place
        FROM settled s
    ), runs AS (
        SELECT p.run_id, p.row, p.run_events, p.run_settled, e.final_status, e.total_cost, e.output, e.summary
        FROM placed p
        LEFT JOIN LATERAL (
            -- The run ends here when this batch settles all it had left.
            SELECT CASE WHEN w.failed_node IS NOT NULL THEN 'failed'
                        WHEN w.cancel_requested_at IS NOT NULL THEN 'cancelled'
                        ELSE 'succeeded' END AS final_status, a.total_cost, a.output, a.summary
            FROM trellis.workflow_runs w CROSS JOIN LATERAL trellis.run_result(w.id) a
            WHERE w.ctid = p.row AND p.run_finished_at IS NULL AND p.nodes_remaining = p.run_settled
              AND p.run_id <> ALL (moving)
            OFFSET 0) e ON true
        WHERE p.place = 1
    ), bumped AS (
        UPDATE trellis.workflow_runs w
        SET last_seq = w.last_seq + c.run_events + (c.final_status IS NOT NULL)::int,
            nodes_remaining = w.nodes_remaining - c.run_settled,
            status = coalesce(c.final_status, w.status),
            started_at = CASE WHEN c.final_status IS NOT NULL THEN coalesce(w.started_at, now()) ELSE w.started_at END,
            finished_at = CASE WHEN c.final_status IS NOT NULL THEN now() ELSE w.finished_at END,
            total_cost = CASE WHEN c.final_status IS NOT NULL THEN c.total_cost ELSE w.total_cost END,
            output = CASE WHEN c.final_status IS NULL THEN w.output WHEN c.final_status = 'succeeded' THEN c.output END
        FROM runs c
        WHERE w.ctid = c.row
        RETURNING w.id AS run_id, w.last_seq, w.status, w.finished_at, w.created_at, w.total_cost, w.error,
                  c.final_status IS NOT NULL AS ended, c.summary
    ), inserted AS (
        INSERT INTO trellis.run_events (run_id, seq, type, data)
        SELECT p.run_id, p.last_seq + p.upto - p.events + k.k,
               CASE k.k WHEN 1 THEN 'node.finished' ELSE 'node.output' END,
               trellis.node_event_data(k.k, p.node_key, p.id, p.attempt, p.status, p.started_at, p.finished_at, p.output,
                                       p.bytes, p.cost, p.error, p.reused_from)
        FROM placed p CROSS JOIN LATERAL (VALUES (1), (2)) AS k(k)
        WHERE k.k <= p.events
        UNION ALL
        SELECT b.run_id, b.last_seq, 'run.finished',
               trellis.run_finished_data(b.status, b.finished_at, b.created_at, b.total_cost, b.error, b.summary)
        FROM bumped b WHERE b.ended
    )
    SELECT count(pg_notify('trellis_events', b.run_id::text || ':' || b.last_seq)) INTO notified FROM bumped b;

    IF cardinality(moving) > 0 THEN
        PERFORM trellis.pass_to_dependents(node_run_ids);
    END IF;
END;
$fn$;
