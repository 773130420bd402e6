-- inspect_workflow's checks of one node's own fields (`label` names it): unknown fields,
-- kind, handler, config, timeout, retry, on_error, and the settings only some kinds take
-- (predicate; join mode and n; parallel items and concurrency; human_gate approvals and
-- prompt). Returns the problems; an unknown kind stops the rest.
CREATE OR REPLACE FUNCTION trellis.inspect_node(node jsonb, label text) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
    problems jsonb := '[]';
    kind text := node ->> 'kind';
    field text;
    msg text;
    ms bigint;
BEGIN
    FOR field IN SELECT trellis.unknown_keys(node, ARRAY['key', 'kind', 'name', 'description', 'handler', 'config', 'input', 'retry',
                                                         'timeout', 'on_error', 'predicate', 'mode', 'n', 'items', 'concurrency',
                                                         'prompt', 'approvals']) LOOP
        problems := problems || jsonb_build_object('code', 'TR100', 'item', label, 'message', format('%s: unknown field "%s"', label, field));
    END LOOP;
    IF kind IS NULL OR kind NOT IN ('agent_call', 'tool_call', 'human_gate', 'condition', 'parallel', 'join') THEN
        RETURN problems || jsonb_build_object('code', 'TR101', 'item', label, 'message',
            format('%s: unknown kind %s (expected agent_call, tool_call, human_gate, condition, parallel or join)',
                   label, coalesce((node -> 'kind')::text, 'nothing')));
    END IF;
    IF kind IN ('agent_call', 'tool_call', 'parallel') THEN
        IF jsonb_typeof(node -> 'handler') IS DISTINCT FROM 'string' OR node ->> 'handler' !~ '^[a-z][a-z0-9_.-]{0,62}$' THEN
            problems := problems || jsonb_build_object('code', 'TR102', 'item', label, 'message',
                format('%s: kind %s needs a handler name (lower-case letters, digits, "_", "." or "-"), got %s',
                       label, kind, coalesce((node -> 'handler')::text, 'nothing')));
        END IF;
    ELSIF node ? 'handler' THEN
        problems := problems || jsonb_build_object('code', 'TR102', 'item', label, 'message',
            format('%s: kind %s is run by Trellis itself and takes no handler', label, kind));
    END IF;
    IF node ? 'config' AND jsonb_typeof(node -> 'config') <> 'object' THEN
        problems := problems || jsonb_build_object('code', 'TR100', 'item', label, 'message', label || ': config must be an object');
    END IF;
    IF node ? 'timeout' THEN
        ms := trellis.parse_duration_ms(node -> 'timeout');
        IF ms IS NULL OR ms NOT BETWEEN 1 AND 2592000000 THEN
            problems := problems || jsonb_build_object('code', 'TR109', 'item', label, 'message',
                format('%s: timeout must be a positive duration of at most 30d, such as 30s or 30000, got %s', label, node -> 'timeout'));
        END IF;
    END IF;
    msg := trellis.retry_problem(node -> 'retry');
    IF msg IS NOT NULL THEN
        problems := problems || jsonb_build_object('code', 'TR110', 'item', label, 'message', label || ': ' || msg);
    END IF;
    IF node ? 'on_error' AND (jsonb_typeof(node -> 'on_error') IS DISTINCT FROM 'string' OR node ->> 'on_error' NOT IN ('fail', 'continue')) THEN
        problems := problems || jsonb_build_object('code', 'TR100', 'item', label, 'message',
            format('%s: on_error must be "fail" or "continue", got %s', label, node -> 'on_error'));
    END IF;
    RETURN problems || trellis.inspect_kind_settings(node, kind, label);
END;
$fn$;
