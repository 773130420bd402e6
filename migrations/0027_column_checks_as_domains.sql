-- The hot tables' one-column CHECKs become domains (issue 12). PostgreSQL keeps a table's
-- CHECK constraints as stored text and, in every statement that writes the table, reads
-- that text back into an expression tree, plans and compiles it — for all of the table's
-- checks, whichever columns the statement sets. Counted with callgrind on the database
-- backend, that was a fifth of a one-node run's instructions (58 constraint texts read
-- per run, 29 statements). A domain's checks are compiled once per session (the type
-- cache) and run only where a value of the domain is written: an insert checks every
-- domain column, an update only the columns it sets (a claim's update no longer checks
-- max_attempts, a heartbeat none of the counters).
--
-- Same names, values and semantics: each domain's constraint keeps the name of the CHECK
-- it replaces, so a refusal still names node_runs_status_check or
-- workflow_runs_nodes_remaining (SQLSTATE 23514 as before; the message now reads "value for
-- domain … violates check constraint …"). NOT NULL and defaults stay on the columns. The
-- checks that read two columns (ready_has_ready_at, running_has_lease,
-- finished_iff_terminal) stay table CHECKs, and so do node_attempts' and run_events' (their
-- columns are in a generated column and in the relay's feed functions' result types).
--
-- Without a rewrite: a column changes to a domain that has no constraint yet (the same
-- storage, so the table and its other indexes are kept as they are; PostgreSQL builds the
-- partial indexes over status again, as it never compares predicates when keeping an
-- index), then each constraint is added to its domain, which checks the rows already
-- stored (a read of the table per domain). The views over these columns are dropped here
-- and made again by their definitions (sql/050_history), which cast the columns back to
-- their base types, so the column types analysts see do not change.
DROP VIEW IF EXISTS trellis.run_chains, trellis.run_history, trellis.node_history, trellis.attempt_history;

CREATE DOMAIN trellis.run_status AS text;
CREATE DOMAIN trellis.run_nodes_remaining AS integer;
CREATE DOMAIN trellis.node_status AS text;
CREATE DOMAIN trellis.node_attempt AS integer;
CREATE DOMAIN trellis.node_item_index AS integer;
CREATE DOMAIN trellis.node_lost_leases AS integer;
CREATE DOMAIN trellis.node_max_attempts AS integer;
CREATE DOMAIN trellis.node_remaining_deps AS integer;
CREATE DOMAIN trellis.node_taken_deps AS integer;

ALTER TABLE trellis.workflow_runs
    DROP CONSTRAINT workflow_runs_status_check,
    DROP CONSTRAINT workflow_runs_nodes_remaining,
    ALTER COLUMN status TYPE trellis.run_status,
    ALTER COLUMN nodes_remaining TYPE trellis.run_nodes_remaining;
ALTER TABLE trellis.node_runs
    DROP CONSTRAINT node_runs_status_check,
    DROP CONSTRAINT node_runs_attempt_nonnegative,
    DROP CONSTRAINT node_runs_item_index_nonnegative,
    DROP CONSTRAINT node_runs_lost_leases_nonnegative,
    DROP CONSTRAINT node_runs_max_attempts_positive,
    DROP CONSTRAINT node_runs_remaining_deps,
    DROP CONSTRAINT node_runs_taken_deps,
    ALTER COLUMN status TYPE trellis.node_status,
    ALTER COLUMN attempt TYPE trellis.node_attempt,
    ALTER COLUMN item_index TYPE trellis.node_item_index,
    ALTER COLUMN lost_leases TYPE trellis.node_lost_leases,
    ALTER COLUMN max_attempts TYPE trellis.node_max_attempts,
    ALTER COLUMN remaining_deps TYPE trellis.node_remaining_deps,
    ALTER COLUMN taken_deps TYPE trellis.node_taken_deps;

ALTER DOMAIN trellis.run_status ADD CONSTRAINT workflow_runs_status_check
    CHECK (VALUE = ANY ('{queued,running,paused,waiting,succeeded,failed,cancelled}'::text[]));
ALTER DOMAIN trellis.run_nodes_remaining ADD CONSTRAINT workflow_runs_nodes_remaining CHECK (VALUE >= 0);
ALTER DOMAIN trellis.node_status ADD CONSTRAINT node_runs_status_check
    CHECK (VALUE = ANY ('{pending,ready,held,running,waiting,succeeded,failed,skipped,cancelled}'::text[]));
ALTER DOMAIN trellis.node_attempt ADD CONSTRAINT node_runs_attempt_nonnegative CHECK (VALUE >= 0);
ALTER DOMAIN trellis.node_item_index ADD CONSTRAINT node_runs_item_index_nonnegative CHECK (VALUE >= 0);
ALTER DOMAIN trellis.node_lost_leases ADD CONSTRAINT node_runs_lost_leases_nonnegative CHECK (VALUE >= 0);
ALTER DOMAIN trellis.node_max_attempts ADD CONSTRAINT node_runs_max_attempts_positive CHECK (VALUE >= 1);
ALTER DOMAIN trellis.node_remaining_deps ADD CONSTRAINT node_runs_remaining_deps CHECK (VALUE >= 0);
ALTER DOMAIN trellis.node_taken_deps ADD CONSTRAINT node_runs_taken_deps CHECK (VALUE >= 0);

COMMENT ON DOMAIN trellis.run_status IS 'workflow_runs.status: queued, running, paused, waiting, succeeded, failed, cancelled.';
COMMENT ON DOMAIN trellis.node_status IS 'node_runs.status: pending, ready, held, running, waiting, succeeded, failed, skipped, cancelled.';
