-- Artifacts that handlers produce (and node outputs too large to store inline): the node
-- run that produced one is recorded, and its creator is the run's starter, who may be
-- none (a run started by plain SQL without a principal).
ALTER TABLE trellis.artifacts ALTER COLUMN created_by DROP NOT NULL;
ALTER TABLE trellis.artifacts ADD COLUMN node_run_id bigint;
COMMENT ON COLUMN trellis.artifacts.node_run_id IS 'The node run whose handler stored it (NULL for uploads); kept after that run is pruned.';
