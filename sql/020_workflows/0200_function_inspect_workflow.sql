-- Validates a workflow definition and analyses its graph, in passes: the top level
-- (inspect_top_level), nodes (inspect_nodes → inspect_node), edges (inspect_edges), the
-- graph's levels and cycles (graph_levels), the checks that need edges
-- (inspect_branches), and bindings (inspect_bindings).
--
-- Returns {"problems": [{"code", "item", "message"}...], "levels": {key: level},
-- "upstream": {key: count}}. `problems` lists every problem found (not just the first),
-- each with a stable SQLSTATE-style code and the node or edge it is about:
--   TR100 malformed definition or field     TR107 bad binding ($input/$context/$node)
--   TR101 unknown node kind                 TR108 invalid JSONPath
--   TR102 missing or misplaced handler      TR109 invalid timeout
--   TR103 duplicate node key                TR110 invalid retry policy
--   TR104 edge to a missing node            TR111 condition without both branches/predicates
--   TR105 cycle or self-loop                TR112 join with too few inputs / bad n
--   TR106 unreachable node                  TR113 bad parallel or human_gate settings
--   TR114 definition over a size cap (trellis.max_definition_bytes, default 1 MiB;
--         max_definition_nodes 1,000; max_definition_edges 10,000)
-- `levels` (longest distance from a root) and `upstream` are only meaningful when there
-- are no problems.
CREATE OR REPLACE FUNCTION trellis.inspect_workflow(definition jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
    problems jsonb;
    node_pass record;
    edge_pass record;
    graph record;
    nodes_size int;
    edges_size int;
    levels jsonb := '{}';
    upstream jsonb := '{}';
    i int;
BEGIN
    IF definition IS NULL OR jsonb_typeof(definition) <> 'object' THEN
        RETURN jsonb_build_object('problems', jsonb_build_array(jsonb_build_object(
            'code', 'TR100', 'item', 'definition', 'message', 'the definition must be a JSON object')),
            'levels', '{}'::jsonb, 'upstream', '{}'::jsonb);
    END IF;

    -- Size caps first: validation is O(nodes × edges), so an oversized document is refused
    -- before any of it is walked.
    nodes_size := jsonb_array_length(CASE WHEN jsonb_typeof(definition -> 'nodes') = 'array' THEN definition -> 'nodes' ELSE '[]' END);
    edges_size := jsonb_array_length(CASE WHEN jsonb_typeof(definition -> 'edges') = 'array' THEN definition -> 'edges' ELSE '[]' END);
    IF pg_column_size(definition) > trellis.setting('max_definition_bytes', 1048576)
       OR nodes_size > trellis.setting('max_definition_nodes', 1000) OR edges_size > trellis.setting('max_definition_edges', 10000) THEN
        RETURN jsonb_build_object('problems', jsonb_build_array(jsonb_build_object(
            'code', 'TR114', 'item', 'definition', 'message',
            format('the definition is too large: %s bytes, %s nodes, %s edges (caps: %s bytes, %s nodes, %s edges)',
                   pg_column_size(definition), nodes_size, edges_size,
                   trellis.setting('max_definition_bytes', 1048576), trellis.setting('max_definition_nodes', 1000),
                   trellis.setting('max_definition_edges', 10000)))),
            'levels', '{}'::jsonb, 'upstream', '{}'::jsonb);
    END IF;

    problems := trellis.inspect_top_level(definition);
    IF jsonb_typeof(definition -> 'nodes') IS DISTINCT FROM 'array' OR jsonb_array_length(definition -> 'nodes') = 0 THEN
        problems := problems || jsonb_build_object('code', 'TR100', 'item', 'nodes', 'message', 'nodes must be a non-empty array');
        RETURN jsonb_build_object('problems', problems, 'levels', '{}'::jsonb, 'upstream', '{}'::jsonb);
    END IF;
    IF definition ? 'edges' AND jsonb_typeof(definition -> 'edges') <> 'array' THEN
        problems := problems || jsonb_build_object('code', 'TR100', 'item', 'edges', 'message', 'edges must be an array');
    END IF;

    SELECT * INTO node_pass FROM trellis.inspect_nodes(definition);
    SELECT * INTO edge_pass FROM trellis.inspect_edges(definition, node_pass.position_of);
    SELECT * INTO graph FROM trellis.graph_levels(node_pass.keys, edge_pass.e_from, edge_pass.e_to);
    problems := problems || node_pass.problems || edge_pass.problems || graph.problems
        || trellis.inspect_branches(node_pass.keys, node_pass.kinds, node_pass.nodes, graph.upstream, edge_pass.e_from,
                                    edge_pass.e_label, edge_pass.e_cond)
        || trellis.inspect_bindings(node_pass.keys, node_pass.kinds, node_pass.nodes, node_pass.position_of, graph.seen,
                                    edge_pass.e_from, edge_pass.e_to);

    FOR i IN 1 .. cardinality(node_pass.keys) LOOP
        levels := levels || jsonb_build_object(node_pass.keys[i], graph.levels[i]);
        upstream := upstream || jsonb_build_object(node_pass.keys[i], graph.upstream[i]);
    END LOOP;
    RETURN jsonb_build_object('problems', problems, 'levels', levels, 'upstream', upstream);
END;
$fn$;
