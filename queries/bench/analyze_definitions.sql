-- Statistics of the workflow definitions, after the bench's wide workflow is published: the
-- planner's view of a database holding workflows of many sizes.
ANALYZE trellis.workflow_versions, trellis.workflow_nodes, trellis.workflow_edges
