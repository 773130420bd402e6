-- Columns the execution engine needs beyond the initial data model.
-- taken_deps: incoming edges whose upstream finished and passed the edge (a skipped
-- upstream or an untaken condition branch does not count); a join compares it with
-- its mode, any other node needs every input taken or is skipped.
ALTER TABLE trellis.node_runs
    ADD COLUMN taken_deps integer NOT NULL DEFAULT 0 CONSTRAINT node_runs_taken_deps CHECK (taken_deps >= 0);
-- Why a run ended badly: set when a node fails with on_error = fail.
ALTER TABLE trellis.workflow_runs
    ADD COLUMN failed_node text;
