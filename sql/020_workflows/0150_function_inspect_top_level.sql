-- inspect_workflow's first pass: the definition's own fields (name, description, unknown
-- fields) and its defaults (retry policy, timeout, on_error). Returns the problems.
CREATE OR REPLACE FUNCTION trellis.inspect_top_level(definition jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
    problems jsonb := '[]';
    defaults jsonb := coalesce(definition -> 'defaults', '{}');
    k text;
    msg text;
BEGIN
    IF jsonb_typeof(definition -> 'name') IS DISTINCT FROM 'string'
       OR definition ->> 'name' !~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$' THEN
        problems := problems || jsonb_build_object('code', 'TR100', 'item', 'name', 'message',
            format('name must be 1-128 letters, digits, "_", "." or "-", starting with a letter or digit; got %s',
                   coalesce((definition -> 'name')::text, 'nothing')));
    END IF;
    IF definition ? 'description' AND jsonb_typeof(definition -> 'description') <> 'string' THEN
        problems := problems || jsonb_build_object('code', 'TR100', 'item', 'description', 'message', 'description must be a string');
    END IF;
    FOR k IN SELECT trellis.unknown_keys(definition, ARRAY['name', 'description', 'nodes', 'edges', 'defaults']) LOOP
        problems := problems || jsonb_build_object('code', 'TR100', 'item', k, 'message',
            format('unknown top-level field "%s" (expected name, description, nodes, edges, defaults)', k));
    END LOOP;
    IF jsonb_typeof(defaults) <> 'object' THEN
        RETURN problems || jsonb_build_object('code', 'TR100', 'item', 'defaults', 'message', 'defaults must be an object');
    END IF;
    msg := trellis.retry_problem(defaults -> 'retry');
    IF msg IS NOT NULL THEN
        problems := problems || jsonb_build_object('code', 'TR110', 'item', 'defaults', 'message', 'defaults.' || msg);
    END IF;
    IF defaults ? 'timeout' AND coalesce(trellis.parse_duration_ms(defaults -> 'timeout'), 0) NOT BETWEEN 1 AND 2592000000 THEN
        problems := problems || jsonb_build_object('code', 'TR109', 'item', 'defaults', 'message',
            format('defaults.timeout must be a positive duration of at most 30d, such as 30s or 30000, got %s', defaults -> 'timeout'));
    END IF;
    IF defaults ? 'on_error' AND defaults ->> 'on_error' NOT IN ('fail', 'continue') THEN
        problems := problems || jsonb_build_object('code', 'TR100', 'item', 'defaults', 'message',
            format('defaults.on_error must be "fail" or "continue", got %s', defaults -> 'on_error'));
    END IF;
    RETURN problems;
END;
$fn$;
