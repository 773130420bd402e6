SELECT f.key AS from_key, t.key AS to_key, e.label, e.condition
FROM trellis.workflow_edges e
JOIN trellis.workflow_nodes f ON f.id = e.from_node_id
JOIN trellis.workflow_nodes t ON t.id = e.to_node_id
WHERE e.version_id = $1
ORDER BY f.position, t.position
