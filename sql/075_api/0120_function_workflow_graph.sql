-- A version's DAG as a client draws it: nodes in level order (kind, handler, level =
-- longest path from a root, upstream count, position in the definition) and edges with
-- their labels and conditions. Shared by the workflow document and the run snapshot.
-- PL/pgSQL rather than SQL: a SQL function whose body PostgreSQL cannot inline (this one's
-- subqueries) is planned again on every call, and PL/pgSQL keeps its plan for the session.
CREATE OR REPLACE FUNCTION trellis.workflow_graph(version_id bigint) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $fn$
BEGIN
    RETURN (SELECT jsonb_build_object(
        'levels', (SELECT coalesce(max(n.execution_level) + 1, 0) FROM trellis.workflow_nodes n
                   WHERE n.version_id = workflow_graph.version_id),
        'nodes', (SELECT coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
                      'key', n.key, 'kind', n.kind, 'handler', n.handler, 'level', n.execution_level,
                      'upstream', n.upstream_count, 'position', n.position))
                      ORDER BY n.execution_level, n.position), '[]'::jsonb)
                  FROM trellis.workflow_nodes n WHERE n.version_id = workflow_graph.version_id),
        'edges', (SELECT coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
                      'from', f.key, 'to', t.key, 'label', e.label, 'condition', e.condition))
                      ORDER BY f.position, t.position), '[]'::jsonb)
                  FROM trellis.workflow_edges e
                  JOIN trellis.workflow_nodes f ON f.id = e.from_node_id
                  JOIN trellis.workflow_nodes t ON t.id = e.to_node_id
                  WHERE e.version_id = workflow_graph.version_id)));
END;
$fn$;
