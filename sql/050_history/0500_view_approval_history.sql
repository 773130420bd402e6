-- One row per approval (a human gate, or `kind` input: a handler node's question): what was asked, the outcome, who decided it and
-- how long it waited; every individual vote in `votes` (principal, decision, comment, at).
CREATE OR REPLACE VIEW trellis.approval_history AS
SELECT a.id AS approval_id,
       a.run_id,
       w.name AS workflow,
       v.version,
       nr.node_key,
       a.status,
       a.prompt,
       a.required_approvals,
       votes.approvals,
       votes.rejections,
       a.created_at AS requested_at,
       a.decided_at,
       (extract(epoch FROM coalesce(a.decided_at, now()) - a.created_at) * 1000)::bigint AS waited_ms,
       a.status = 'expired' AS expired,
       decider.name AS decided_by,
       a.comment,
       votes.votes,
       a.kind
FROM trellis.approvals a
JOIN trellis.node_runs nr ON nr.id = a.node_run_id
JOIN trellis.workflow_runs r ON r.id = a.run_id
JOIN trellis.workflows w ON w.id = r.workflow_id
JOIN trellis.workflow_versions v ON v.id = r.version_id
LEFT JOIN trellis.principals decider ON decider.id = a.decided_by
CROSS JOIN LATERAL (
    SELECT count(*) FILTER (WHERE d.decision = 'approve') AS approvals,
           count(*) FILTER (WHERE d.decision = 'reject') AS rejections,
           coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
               'principal', p.name, 'decision', d.decision, 'comment', d.comment, 'at', d.decided_at))
               ORDER BY d.decided_at), '[]'::jsonb) AS votes
    FROM trellis.approval_decisions d JOIN trellis.principals p ON p.id = d.principal_id
    WHERE d.approval_id = a.id
) votes;

COMMENT ON VIEW trellis.approval_history IS 'One row per approval (docs/history.md).';
GRANT SELECT ON trellis.approval_history TO trellis_analyst;
