-- Worker loss is not the node's failure: a lost lease re-queues the node without spending
-- its retry budget, counted here against a separate bound (trellis.max_lost_leases).
ALTER TABLE trellis.node_runs ADD COLUMN lost_leases integer NOT NULL DEFAULT 0
    CONSTRAINT node_runs_lost_leases_nonnegative CHECK (lost_leases >= 0);
-- A scheduler belongs to the database login that registered it: every scheduler function
-- checks session_user against it, so one worker login cannot act for another's nodes.
ALTER TABLE trellis.schedulers ADD COLUMN login text NOT NULL DEFAULT session_user;
