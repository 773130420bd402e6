-- One node: the same transition as settle_nodes.
CREATE OR REPLACE FUNCTION trellis.settle_node(node_run_id bigint, final_status text, node_output jsonb, node_error jsonb)
RETURNS void
LANGUAGE sql AS $fn$
    SELECT trellis.settle_nodes(ARRAY[node_run_id], ARRAY[final_status], ARRAY[node_output], ARRAY[node_error])
$fn$;
