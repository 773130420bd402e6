-- Ends runs whose nodes are all terminal, set-based (a completed batch finishes many
-- one-node runs at once): status (failed when a node failed the run, cancelled when
-- cancelled, else succeeded), output and total cost (run_result), and the final
-- run.finished event — always the run's highest seq — with one doorbell per run. Runs
-- already finished are left alone. The run rows are locked in id order. The hot path
-- (complete_nodes) finishes most runs inside append_events instead, in the update that
-- settles their last nodes.
CREATE OR REPLACE FUNCTION trellis.finish_runs(runs uuid[]) RETURNS void
LANGUAGE plpgsql
-- Generic plans, made once per session: a custom plan for a one-run list always looked
-- cheaper than the generic one, so each cancel planned its statements afresh. Every
-- statement reads the runs by key (= ANY), which holds for any list size.
SET plan_cache_mode = force_generic_plan AS $fn$
DECLARE
    notified bigint;
BEGIN
    PERFORM 1 FROM trellis.workflow_runs r WHERE r.id = ANY (runs) ORDER BY r.id FOR NO KEY UPDATE;
    WITH target AS (
        SELECT r.id, CASE WHEN r.failed_node IS NOT NULL THEN 'failed'
                          WHEN r.cancel_requested_at IS NOT NULL THEN 'cancelled'
                          ELSE 'succeeded' END AS final_status
        FROM trellis.workflow_runs r WHERE r.id = ANY (runs) AND r.finished_at IS NULL
    ), finished AS (
        UPDATE trellis.workflow_runs w
        SET status = t.final_status, finished_at = now(), started_at = coalesce(w.started_at, now()),
            total_cost = a.total_cost, output = CASE WHEN t.final_status = 'succeeded' THEN a.output END,
            last_seq = w.last_seq + 1
        FROM target t CROSS JOIN LATERAL trellis.run_result(t.id) a
        WHERE w.id = t.id
        RETURNING w.id AS run_id, w.last_seq, w.status, w.finished_at, w.created_at, w.total_cost, w.error, a.summary
    ), inserted AS (
        INSERT INTO trellis.run_events (run_id, seq, type, data)
        SELECT f.run_id, f.last_seq, 'run.finished',
               trellis.run_finished_data(f.status, f.finished_at, f.created_at, f.total_cost, f.error, f.summary)
        FROM finished f
        RETURNING run_events.run_id, run_events.seq
    )
    SELECT count(pg_notify('trellis_events', i.run_id::text || ':' || i.seq)) INTO notified FROM inserted i;
END;
$fn$;
