-- GET /v1/approvals: approvals of workflows the principal may view, oldest first.
CREATE OR REPLACE FUNCTION trellis.list_approvals(principal text, approval_status text DEFAULT 'pending',
                                                  max_items integer DEFAULT 100)
RETURNS jsonb
LANGUAGE plpgsql STABLE AS $fn$
BEGIN
    PERFORM trellis.principal_id(principal);
    IF approval_status IS NOT NULL AND approval_status NOT IN ('pending', 'approved', 'rejected', 'expired') THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('unknown approval status "%s"', approval_status);
    END IF;
    RETURN (SELECT coalesce(jsonb_agg(x.item ORDER BY x.created_at, x.id), '[]'::jsonb) FROM (
        SELECT a.id, a.created_at, jsonb_strip_nulls(jsonb_build_object(
                   'approval_id', a.id, 'run_id', a.run_id, 'workflow', w.name, 'node_key', n.node_key,
                   'status', a.status, 'kind', a.kind, 'prompt', a.prompt, 'required_approvals', a.required_approvals,
                   'approvals', (SELECT count(*) FROM trellis.approval_decisions d WHERE d.approval_id = a.id AND d.decision = 'approve'),
                   'requested_at', a.created_at, 'expires_at', a.expires_at, 'decided_at', a.decided_at)) AS item
        FROM trellis.approvals a
        JOIN trellis.workflow_runs r ON r.id = a.run_id
        JOIN trellis.workflows w ON w.id = r.workflow_id
        JOIN trellis.node_runs n ON n.id = a.node_run_id
        WHERE (approval_status IS NULL OR a.status = approval_status)
          AND trellis.has_privilege(principal, w.name, 'view')
        ORDER BY a.created_at, a.id
        LIMIT greatest(1, least(coalesce(max_items, 100), 1000))) x);
END;
$fn$;
