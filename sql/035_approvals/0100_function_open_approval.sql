-- A node waits for people (status `waiting`): an approvals row records what is needed
-- (required count, eligible approvers, self-approval, expiry, from the node's
-- config.approvals), the run is `waiting`, and approval.requested / run.waiting are
-- appended. `approval_kind` 'gate' is a human_gate that became due (its prompt from
-- config.prompt); 'input' is a handler node whose attempt asked a question (`question`;
-- the answer is the approving comment, the starter of the run may answer unless
-- config.approvals.allow_self_approval is false, and it expires as a refusal whatever
-- on_expiry says).
DROP FUNCTION IF EXISTS trellis.open_approval(bigint);
CREATE OR REPLACE FUNCTION trellis.open_approval(node_run_id bigint, approval_kind text DEFAULT 'gate', question text DEFAULT NULL)
RETURNS uuid
LANGUAGE plpgsql AS $fn$
DECLARE
    nr trellis.node_runs;
    settings jsonb;
    approval uuid;
    expiry bigint;
    prompt text;
BEGIN
    UPDATE trellis.node_runs n SET status = 'waiting', started_at = coalesce(n.started_at, now()), lease_expires_at = NULL, scheduler_id = NULL
    WHERE n.id = node_run_id RETURNING * INTO nr;
    SELECT coalesce(wn.config -> 'approvals', '{}'), coalesce(question, wn.config ->> 'prompt', '') INTO settings, prompt
    FROM trellis.workflow_nodes wn WHERE wn.id = nr.node_id;
    IF jsonb_typeof(settings) <> 'object' THEN
        settings := '{}';
    END IF;
    expiry := trellis.parse_duration_ms(settings -> 'expires_in');
    INSERT INTO trellis.approvals (run_id, node_run_id, kind, prompt, required_approvals, eligible_principals,
                                   allow_self_approval, expires_at, expiry_outcome)
    VALUES (nr.run_id, nr.id, approval_kind, prompt, least(coalesce((settings ->> 'required')::numeric, 1), 1000)::int,
            CASE WHEN settings ? 'approvers' THEN ARRAY(
                SELECT p.id FROM trellis.principals p
                WHERE p.name IN (SELECT jsonb_array_elements_text(settings -> 'approvers'))) END,
            coalesce((settings ->> 'allow_self_approval')::boolean, approval_kind = 'input'),
            CASE WHEN expiry IS NOT NULL THEN now() + expiry * interval '1 millisecond' END,
            -- An unanswered question has no answer to go on with: it expires as a refusal.
            CASE WHEN approval_kind = 'input' THEN 'reject' ELSE coalesce(settings ->> 'on_expiry', 'reject') END)
    RETURNING id INTO approval;
    UPDATE trellis.workflow_runs SET status = 'waiting' WHERE id = nr.run_id AND status IN ('queued', 'running');
    PERFORM trellis.append_event(nr.run_id, 'approval.requested', jsonb_strip_nulls(jsonb_build_object(
        'approval_id', approval, 'node_key', nr.node_key, 'prompt', prompt,
        'kind', CASE WHEN approval_kind = 'input' THEN 'input' END,
        'required', least(coalesce((settings ->> 'required')::numeric, 1), 1000)::int,
        'expires_at', CASE WHEN expiry IS NOT NULL THEN now() + expiry * interval '1 millisecond' END)));
    PERFORM trellis.append_event(nr.run_id, 'run.waiting', jsonb_build_object(
        'node_key', nr.node_key, 'reason', CASE WHEN approval_kind = 'input' THEN 'input' ELSE 'approval' END));
    PERFORM pg_notify('trellis_approvals', approval::text);
    RETURN approval;
END;
$fn$;
