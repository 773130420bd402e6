-- Ends a pending approval with `final_status` (approved, rejected, expired) and moves its
-- node on. A gate: approved → the node succeeds with {"approved": true, ...}; rejected
-- or expired → the node fails (code rejected/expired) and its on_error applies. An input
-- request: approved → the node is ready again with the answer (the comment) added to its
-- `resume` for the next attempt (held if the run is paused); rejected or expired → it
-- fails without retries. The run leaves `waiting` when no other approval is open, and
-- advances.
CREATE OR REPLACE FUNCTION trellis.close_approval(approval uuid, final_status text, decided_by bigint, decision_comment text)
RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
    a trellis.approvals;
    nr trellis.node_runs;
    failure jsonb;
BEGIN
    UPDATE trellis.approvals ap
    SET status = final_status, decided_by = close_approval.decided_by, decided_at = now(), comment = decision_comment
    WHERE ap.id = approval
    RETURNING * INTO a;
    SELECT * INTO nr FROM trellis.node_runs WHERE id = a.node_run_id FOR UPDATE;
    PERFORM trellis.append_event(a.run_id, 'approval.decided', jsonb_strip_nulls(jsonb_build_object(
        'approval_id', a.id, 'node_key', nr.node_key,
        'decision', CASE final_status WHEN 'approved' THEN 'approve' WHEN 'rejected' THEN 'reject' ELSE 'expired' END,
        'decided_by', (SELECT name FROM trellis.principals WHERE id = close_approval.decided_by), 'comment', decision_comment)));
    IF NOT EXISTS (SELECT 1 FROM trellis.approvals o WHERE o.run_id = a.run_id AND o.status = 'pending') THEN
        UPDATE trellis.workflow_runs SET status = CASE WHEN started_at IS NULL THEN 'queued' ELSE 'running' END
        WHERE id = a.run_id AND status = 'waiting';
    END IF;
    IF a.kind = 'input' AND final_status = 'approved' THEN
        UPDATE trellis.node_runs n
        SET status = trellis.ready_status(a.run_id),
            ready_at = now(), error = NULL,
            resume = coalesce(n.resume, '{}'::jsonb) || jsonb_strip_nulls(jsonb_build_object(
                'answer', coalesce(decision_comment, ''),
                'answered_by', (SELECT name FROM trellis.principals WHERE id = close_approval.decided_by)))
        WHERE n.id = nr.id;
        PERFORM pg_notify('trellis_ready', nr.handler);
    ELSIF final_status = 'approved' THEN
        PERFORM trellis.settle_node(nr.id, 'succeeded', jsonb_strip_nulls(jsonb_build_object(
            'approved', true, 'comment', decision_comment,
            'approvers', (SELECT jsonb_agg(p.name ORDER BY d.decided_at) FROM trellis.approval_decisions d
                          JOIN trellis.principals p ON p.id = d.principal_id
                          WHERE d.approval_id = a.id AND d.decision = 'approve'))), NULL);
    ELSE
        failure := jsonb_strip_nulls(jsonb_build_object(
            'code', CASE final_status WHEN 'rejected' THEN 'rejected' ELSE 'expired' END,
            'message', CASE final_status WHEN 'rejected' THEN coalesce('rejected: ' || decision_comment, 'rejected')
                                         ELSE 'the approval expired' END));
        IF a.kind = 'input' THEN
            -- Its attempt is already closed (input_required); on_error and parallel items
            -- are handled as for any failure without retries.
            PERFORM trellis.apply_failure(nr.id, failure, false, NULL);
        ELSE
            PERFORM trellis.settle_failed(nr.id, failure);
        END IF;
    END IF;
    PERFORM trellis.advance_run(a.run_id);
END;
$fn$;
