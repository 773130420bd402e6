-- A handler node can wait for a person's answer (the a2a handler, when its agent's task
-- is input-required): its attempt ends `input_required`, the node waits (status
-- `waiting`, like a human gate) on an approval of kind `input` whose approving comment is
-- the answer, and `resume` carries what the handler left — then the answer — to the
-- node's next attempt.
ALTER TABLE trellis.node_runs ADD COLUMN resume jsonb;
ALTER TABLE trellis.approvals ADD COLUMN kind text NOT NULL DEFAULT 'gate'
    CONSTRAINT approvals_kind_check CHECK (kind IN ('gate', 'input'));
ALTER TABLE trellis.node_attempts DROP CONSTRAINT node_attempts_outcome_check;
ALTER TABLE trellis.node_attempts ADD CONSTRAINT node_attempts_outcome_check
    CHECK (outcome IN ('running', 'succeeded', 'failed', 'timed_out', 'lost', 'cancelled', 'input_required'));
