-- Records `principal`'s decision ('approve' or 'reject') on a pending approval. Checked
-- here, for every client: the principal needs `approve` on the workflow, must be among
-- the listed approvers when there is a list, may not decide on a run they started unless
-- self-approval is allowed, and votes once. One rejection rejects; approvals count
-- toward `required`. A question (kind input) is approved only with an answer (the
-- comment). Returns the approval's status afterwards.
-- Errors: TR404 unknown approval, TR409 already decided / run finished / voted, 42501, 22023.
CREATE OR REPLACE FUNCTION trellis.decide_approval(approval uuid, decision text, principal text DEFAULT 'admin',
                                                   comment text DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql AS $fn$
DECLARE
    actor_id bigint := trellis.principal_id(principal);
    a trellis.approvals;
    r trellis.workflow_runs;
    approvals_so_far int;
BEGIN
    IF decision IS NULL OR decision NOT IN ('approve', 'reject') THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('decision must be "approve" or "reject", got "%s"', decision);
    END IF;
    -- Lock order run → node → approval, as every transition: find the run, lock it, then
    -- lock and re-read the approval.
    SELECT * INTO a FROM trellis.approvals ap WHERE ap.id = approval;
    IF a.id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'TR404', MESSAGE = format('unknown approval %s', approval);
    END IF;
    SELECT * INTO r FROM trellis.workflow_runs w WHERE w.id = a.run_id FOR UPDATE;
    SELECT * INTO a FROM trellis.approvals ap WHERE ap.id = approval FOR UPDATE;
    IF a.status <> 'pending' THEN
        RAISE EXCEPTION USING ERRCODE = 'TR409', MESSAGE = format('approval %s is already %s', approval, a.status);
    END IF;
    IF r.finished_at IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'TR409', MESSAGE = format('run %s already %s', r.id, r.status);
    END IF;
    PERFORM trellis.require_privilege(actor_id, r.workflow_id, 'approve');
    IF a.kind = 'input' AND decision = 'approve' AND coalesce(btrim(comment), '') = '' THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('approval %s is a question (%s): approving it needs the answer as the comment', approval, left(a.prompt, 200)),
            HINT = 'trellis approval answer ID TEXT';
    END IF;
    IF a.eligible_principals IS NOT NULL AND NOT actor_id = ANY (a.eligible_principals) THEN
        RAISE EXCEPTION USING ERRCODE = '42501',
            MESSAGE = format('principal "%s" is not among the approvers of approval %s', principal, approval);
    END IF;
    IF NOT a.allow_self_approval AND r.started_by = actor_id THEN
        RAISE EXCEPTION USING ERRCODE = '42501',
            MESSAGE = format('principal "%s" started run %s and may not decide its approval', principal, r.id),
            HINT = 'another principal with the approve privilege must decide';
    END IF;
    INSERT INTO trellis.approval_decisions (approval_id, principal_id, decision, comment)
    VALUES (approval, actor_id, decision, decide_approval.comment)
    ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'TR409', MESSAGE = format('principal "%s" already decided approval %s', principal, approval);
    END IF;
    IF decision = 'reject' THEN
        PERFORM trellis.close_approval(approval, 'rejected', actor_id, decide_approval.comment);
        RETURN 'rejected';
    END IF;
    SELECT count(*) INTO approvals_so_far FROM trellis.approval_decisions d WHERE d.approval_id = approval AND d.decision = 'approve';
    IF approvals_so_far >= a.required_approvals THEN
        PERFORM trellis.close_approval(approval, 'approved', actor_id, decide_approval.comment);
        RETURN 'approved';
    END IF;
    RETURN 'pending';
END;
$fn$;
