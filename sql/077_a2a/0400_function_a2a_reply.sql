-- A client's follow-up message on a task (an A2A message with taskId = the run): it
-- decides the run's oldest pending approval as `principal` — for a question (kind input)
-- `answer` is the answer; for a human gate it is the comment, and `decision` may be
-- 'reject'. decide_approval checks everything (approve privilege, approvers,
-- self-approval). TR409 when the run waits for nothing. Returns the approval's status.
CREATE OR REPLACE FUNCTION trellis.a2a_reply(run uuid, principal text, answer text, decision text DEFAULT 'approve')
RETURNS text
LANGUAGE plpgsql AS $fn$
DECLARE
    status text := trellis.require_run_access(run, principal, 'view');
    approval uuid;
BEGIN
    SELECT a.id INTO approval FROM trellis.approvals a
    WHERE a.run_id = run AND a.status = 'pending' ORDER BY a.created_at, a.id LIMIT 1;
    IF approval IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'TR409',
            MESSAGE = format('run %s is not waiting for input (it is %s); a message on a task answers its question', run, status);
    END IF;
    RETURN trellis.decide_approval(approval, decision, principal, answer);
END;
$fn$;
