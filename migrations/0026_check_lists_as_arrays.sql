-- The hot tables' status lists as one array constant each (issue 12). PostgreSQL reads a
-- table's CHECK constraints from their stored text, plans and compiles them afresh in
-- every statement that writes the table — the compiled form lives only as long as the
-- statement — so their cost follows the size of the stored expression. `status IN ('a',
-- 'b', …)` is stored as one node per word (1,910 characters for node_runs' nine
-- statuses), and each statement also folds those words into an array again;
-- `status = ANY ('{a,b,…}'::text[])` is the same test stored as one constant (778
-- characters). Counted with callgrind on the database backend (scripts/bench-instructions.sh,
-- repeatable where this VM's timings are not): a start 1.38 → 1.31 million instructions, a
-- one-node run (start, claim, complete) 5.89 → 5.66 million, a run of root → 8 → merge
-- 27.3 → 26.6 million.
-- Same names, same values, same semantics; each constraint is checked against the rows
-- already stored when it is added again.
ALTER TABLE trellis.workflow_runs
    DROP CONSTRAINT workflow_runs_status_check,
    ADD CONSTRAINT workflow_runs_status_check
        CHECK (status = ANY ('{queued,running,paused,waiting,succeeded,failed,cancelled}'::text[])),
    DROP CONSTRAINT workflow_runs_finished_iff_terminal,
    ADD CONSTRAINT workflow_runs_finished_iff_terminal
        CHECK ((finished_at IS NOT NULL) = (status = ANY ('{succeeded,failed,cancelled}'::text[])));
ALTER TABLE trellis.node_runs
    DROP CONSTRAINT node_runs_status_check,
    ADD CONSTRAINT node_runs_status_check
        CHECK (status = ANY ('{pending,ready,held,running,waiting,succeeded,failed,skipped,cancelled}'::text[]));
ALTER TABLE trellis.node_attempts
    DROP CONSTRAINT node_attempts_outcome_check,
    ADD CONSTRAINT node_attempts_outcome_check
        CHECK (outcome = ANY ('{running,succeeded,failed,timed_out,lost,cancelled,input_required}'::text[]));
