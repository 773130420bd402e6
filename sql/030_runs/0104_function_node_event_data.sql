-- The data of a settled node's events (PROTOCOL.md): `which` 1 is node.finished (key,
-- node run, attempt, status, duration, item count, output size, cost, error, reuse), 2 is
-- node.output (the output inline up to 64 KiB, else truncated). A SQL expression the
-- planner inlines into the statements that settle nodes (settle_nodes,
-- settle_succeeded), which both build these events.
CREATE OR REPLACE FUNCTION trellis.node_event_data(which integer, node_key text, node_run_id bigint, attempt integer,
                                                   status text, started_at timestamptz, finished_at timestamptz,
                                                   output jsonb, output_bytes integer, cost numeric, error jsonb,
                                                   reused_from bigint)
RETURNS jsonb
LANGUAGE sql STABLE AS $fn$
    SELECT CASE which
        WHEN 1 THEN jsonb_strip_nulls(jsonb_build_object(
            'node_key', node_key, 'node_run_id', node_run_id, 'attempt', attempt, 'status', status,
            'duration_ms', CASE WHEN started_at IS NOT NULL
                                THEN round(extract(epoch FROM finished_at - started_at) * 1000)::bigint END,
            'item_count', CASE WHEN jsonb_typeof(output) = 'array' THEN jsonb_array_length(output) END,
            'output_bytes', output_bytes, 'cost', cost, 'error', error, 'reused_from', reused_from))
        ELSE jsonb_build_object(
            'node_key', node_key, 'attempt', attempt, 'output_bytes', output_bytes, 'truncated', output_bytes > 65536,
            'output', CASE WHEN output_bytes > 65536 THEN NULL ELSE output END)
    END
$fn$;
