-- Validates a workflow definition and analyses its graph, in one pass.
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
    problems jsonb := '[]';
    node jsonb;
    edge jsonb;
    i int;
    j int;
    n int := 0;
    m int := 0;
    keys text[] := '{}';
    kinds text[] := '{}';
    nodes jsonb[] := '{}';
    position_of jsonb := '{}';
    ordinals int[] := '{}';
    k text;
    kind text;
    label text;
    msg text;
    ms bigint;
    from_key text;
    to_key text;
    from_pos int;
    to_pos int;
    e_from int[] := '{}';
    e_to int[] := '{}';
    e_label text[] := '{}';
    e_cond boolean[] := '{}';
    indeg int[];
    upstream int[];
    lvl int[];
    seen boolean[];
    queue int[];
    head int;
    cur int;
    parent int[];
    reported boolean[];
    found boolean;
    path text[];
    binding text;
    root text;
    ancestors boolean[];
    has_true boolean;
    has_false boolean;
    outgoing int;
    all_conditional boolean;
    defaults jsonb;
    levels jsonb := '{}';
    upstream_json jsonb := '{}';
BEGIN
    IF definition IS NULL OR jsonb_typeof(definition) <> 'object' THEN
        RETURN jsonb_build_object('problems', jsonb_build_array(jsonb_build_object(
            'code', 'TR100', 'item', 'definition', 'message', 'the definition must be a JSON object')),
            'levels', '{}'::jsonb, 'upstream', '{}'::jsonb);
    END IF;

    -- Size caps first: validation is O(nodes × edges), so an oversized document is refused
    -- before any of it is walked.
    IF pg_column_size(definition) > trellis.setting('max_definition_bytes', 1048576)
       OR jsonb_array_length(CASE WHEN jsonb_typeof(definition -> 'nodes') = 'array' THEN definition -> 'nodes' ELSE '[]' END)
          > trellis.setting('max_definition_nodes', 1000)
       OR jsonb_array_length(CASE WHEN jsonb_typeof(definition -> 'edges') = 'array' THEN definition -> 'edges' ELSE '[]' END)
          > trellis.setting('max_definition_edges', 10000) THEN
        RETURN jsonb_build_object('problems', jsonb_build_array(jsonb_build_object(
            'code', 'TR114', 'item', 'definition', 'message',
            format('the definition is too large: %s bytes, %s nodes, %s edges (caps: %s bytes, %s nodes, %s edges)',
                   pg_column_size(definition),
                   jsonb_array_length(CASE WHEN jsonb_typeof(definition -> 'nodes') = 'array' THEN definition -> 'nodes' ELSE '[]' END),
                   jsonb_array_length(CASE WHEN jsonb_typeof(definition -> 'edges') = 'array' THEN definition -> 'edges' ELSE '[]' END),
                   trellis.setting('max_definition_bytes', 1048576), trellis.setting('max_definition_nodes', 1000),
                   trellis.setting('max_definition_edges', 10000)))),
            'levels', '{}'::jsonb, 'upstream', '{}'::jsonb);
    END IF;

    -- Top level.
    IF jsonb_typeof(definition -> 'name') IS DISTINCT FROM 'string'
       OR definition ->> 'name' !~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$' THEN
        problems := problems || jsonb_build_object('code', 'TR100', 'item', 'name', 'message',
            format('name must be 1-128 letters, digits, "_", "." or "-", starting with a letter or digit; got %s',
                   coalesce((definition -> 'name')::text, 'nothing')));
    END IF;
    IF definition ? 'description' AND jsonb_typeof(definition -> 'description') <> 'string' THEN
        problems := problems || jsonb_build_object('code', 'TR100', 'item', 'description', 'message', 'description must be a string');
    END IF;
    FOR k IN SELECT jsonb_object_keys(definition) LOOP
        IF k NOT IN ('name', 'description', 'nodes', 'edges', 'defaults') THEN
            problems := problems || jsonb_build_object('code', 'TR100', 'item', k, 'message',
                format('unknown top-level field "%s" (expected name, description, nodes, edges, defaults)', k));
        END IF;
    END LOOP;
    defaults := coalesce(definition -> 'defaults', '{}');
    IF jsonb_typeof(defaults) <> 'object' THEN
        problems := problems || jsonb_build_object('code', 'TR100', 'item', 'defaults', 'message', 'defaults must be an object');
        defaults := '{}';
    ELSE
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
    END IF;
    IF jsonb_typeof(definition -> 'nodes') IS DISTINCT FROM 'array' OR jsonb_array_length(definition -> 'nodes') = 0 THEN
        problems := problems || jsonb_build_object('code', 'TR100', 'item', 'nodes', 'message', 'nodes must be a non-empty array');
        RETURN jsonb_build_object('problems', problems, 'levels', '{}'::jsonb, 'upstream', '{}'::jsonb);
    END IF;
    IF definition ? 'edges' AND jsonb_typeof(definition -> 'edges') <> 'array' THEN
        problems := problems || jsonb_build_object('code', 'TR100', 'item', 'edges', 'message', 'edges must be an array');
    END IF;

    -- Nodes.
    FOR node, i IN SELECT value, ordinality::int FROM jsonb_array_elements(definition -> 'nodes') WITH ORDINALITY LOOP
        label := format('node #%s', i);
        IF jsonb_typeof(node) <> 'object' THEN
            problems := problems || jsonb_build_object('code', 'TR100', 'item', label, 'message', label || ' must be an object');
            CONTINUE;
        END IF;
        k := node ->> 'key';
        IF jsonb_typeof(node -> 'key') IS DISTINCT FROM 'string' OR k !~ '^[A-Za-z_][A-Za-z0-9_]{0,62}$' THEN
            problems := problems || jsonb_build_object('code', 'TR100', 'item', label, 'message',
                format('%s: key must be letters, digits and "_" (not starting with a digit, at most 63), got %s',
                       label, coalesce((node -> 'key')::text, 'nothing')));
            CONTINUE;
        END IF;
        label := format('node "%s"', k);
        IF k IN ('input', 'context') THEN
            problems := problems || jsonb_build_object('code', 'TR100', 'item', label, 'message',
                format('%s: "%s" is reserved for $%s bindings', label, k, k));
            CONTINUE;
        END IF;
        IF position_of ? k THEN
            problems := problems || jsonb_build_object('code', 'TR103', 'item', label, 'message',
                format('duplicate node key "%s" (nodes #%s and #%s)', k, ordinals[(position_of ->> k)::int], i));
            CONTINUE;
        END IF;
        n := n + 1;
        keys := keys || k;
        ordinals := ordinals || i;
        nodes := nodes || node;
        position_of := position_of || jsonb_build_object(k, n);
        kind := node ->> 'kind';
        kinds := kinds || coalesce(kind, '');

        FOR msg IN SELECT jsonb_object_keys(node) LOOP
            IF msg NOT IN ('key', 'kind', 'name', 'description', 'handler', 'config', 'input', 'retry', 'timeout',
                           'on_error', 'predicate', 'mode', 'n', 'items', 'concurrency', 'prompt', 'approvals') THEN
                problems := problems || jsonb_build_object('code', 'TR100', 'item', label, 'message',
                    format('%s: unknown field "%s"', label, msg));
            END IF;
        END LOOP;

        IF kind IS NULL OR kind NOT IN ('agent_call', 'tool_call', 'human_gate', 'condition', 'parallel', 'join') THEN
            problems := problems || jsonb_build_object('code', 'TR101', 'item', label, 'message',
                format('%s: unknown kind %s (expected agent_call, tool_call, human_gate, condition, parallel or join)',
                       label, coalesce((node -> 'kind')::text, 'nothing')));
            CONTINUE;
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

        IF kind = 'condition' AND node ? 'predicate' THEN
            IF jsonb_typeof(node -> 'predicate') IS DISTINCT FROM 'string' OR NOT trellis.is_valid_jsonpath(node ->> 'predicate') THEN
                problems := problems || jsonb_build_object('code', 'TR108', 'item', label, 'message',
                    format('%s: predicate %s is not a valid JSONPath expression', label, node -> 'predicate'));
            END IF;
        ELSIF kind <> 'condition' AND node ? 'predicate' THEN
            problems := problems || jsonb_build_object('code', 'TR100', 'item', label, 'message',
                format('%s: only condition nodes take a predicate', label));
        END IF;

        IF kind = 'join' THEN
            IF node ? 'mode' AND node ->> 'mode' NOT IN ('all', 'any', 'n') THEN
                problems := problems || jsonb_build_object('code', 'TR112', 'item', label, 'message',
                    format('%s: mode must be "all", "any" or "n", got %s', label, node -> 'mode'));
            END IF;
            IF node ->> 'mode' = 'n' AND (jsonb_typeof(node -> 'n') IS DISTINCT FROM 'number'
                OR (node ->> 'n')::numeric <> trunc((node ->> 'n')::numeric) OR (node ->> 'n')::numeric < 1) THEN
                problems := problems || jsonb_build_object('code', 'TR112', 'item', label, 'message',
                    format('%s: mode "n" needs a positive integer n, got %s', label, coalesce((node -> 'n')::text, 'nothing')));
            END IF;
        ELSIF node ? 'mode' OR node ? 'n' THEN
            problems := problems || jsonb_build_object('code', 'TR100', 'item', label, 'message',
                format('%s: only join nodes take mode and n', label));
        END IF;

        IF kind = 'parallel' THEN
            IF jsonb_typeof(node -> 'items') IS DISTINCT FROM 'string' THEN
                problems := problems || jsonb_build_object('code', 'TR113', 'item', label, 'message',
                    format('%s: items must be a binding to an array, such as "$fetch.rows"', label));
            END IF;
            IF node ? 'concurrency' AND (jsonb_typeof(node -> 'concurrency') IS DISTINCT FROM 'number'
                OR (node ->> 'concurrency')::numeric <> trunc((node ->> 'concurrency')::numeric)
                OR (node ->> 'concurrency')::numeric NOT BETWEEN 1 AND 10000) THEN
                problems := problems || jsonb_build_object('code', 'TR113', 'item', label, 'message',
                    format('%s: concurrency must be an integer from 1 to 10000, got %s', label, node -> 'concurrency'));
            END IF;
        ELSIF node ? 'items' OR node ? 'concurrency' THEN
            problems := problems || jsonb_build_object('code', 'TR100', 'item', label, 'message',
                format('%s: only parallel nodes take items and concurrency', label));
        END IF;

        IF kind = 'human_gate' AND node ? 'approvals' THEN
            edge := node -> 'approvals';
            IF jsonb_typeof(edge) <> 'object' THEN
                msg := 'approvals must be an object';
            ELSIF edge ? 'required' AND (jsonb_typeof(edge -> 'required') IS DISTINCT FROM 'number'
                OR (edge ->> 'required')::numeric <> trunc((edge ->> 'required')::numeric) OR (edge ->> 'required')::numeric NOT BETWEEN 1 AND 1000) THEN
                msg := format('approvals.required must be an integer from 1 to 1000, got %s', edge -> 'required');
            ELSIF edge ? 'approvers' AND (jsonb_typeof(edge -> 'approvers') IS DISTINCT FROM 'array'
                OR EXISTS (SELECT 1 FROM jsonb_array_elements(edge -> 'approvers') a WHERE jsonb_typeof(a) <> 'string')) THEN
                msg := 'approvals.approvers must be an array of principal names';
            ELSIF edge ? 'approvers' AND (edge ->> 'required')::numeric > jsonb_array_length(edge -> 'approvers') THEN
                msg := format('approvals.required (%s) exceeds the %s listed approvers', edge ->> 'required', jsonb_array_length(edge -> 'approvers'));
            ELSIF edge ? 'expires_in' AND coalesce(trellis.parse_duration_ms(edge -> 'expires_in'), 0) NOT BETWEEN 1 AND 31536000000 THEN
                msg := format('approvals.expires_in must be a positive duration of at most 365d, got %s', edge -> 'expires_in');
            ELSIF edge ? 'on_expiry' AND edge ->> 'on_expiry' NOT IN ('reject', 'approve') THEN
                msg := format('approvals.on_expiry must be "reject" or "approve", got %s', edge -> 'on_expiry');
            ELSIF edge ? 'allow_self_approval' AND jsonb_typeof(edge -> 'allow_self_approval') <> 'boolean' THEN
                msg := 'approvals.allow_self_approval must be true or false';
            ELSE
                msg := NULL;
            END IF;
            IF msg IS NOT NULL THEN
                problems := problems || jsonb_build_object('code', 'TR113', 'item', label, 'message', label || ': ' || msg);
            END IF;
        ELSIF kind <> 'human_gate' AND (node ? 'approvals' OR node ? 'prompt') THEN
            problems := problems || jsonb_build_object('code', 'TR100', 'item', label, 'message',
                format('%s: only human_gate nodes take approvals and prompt', label));
        END IF;
    END LOOP;

    -- Edges.
    IF jsonb_typeof(definition -> 'edges') = 'array' THEN
        FOR edge, i IN SELECT value, ordinality::int FROM jsonb_array_elements(definition -> 'edges') WITH ORDINALITY LOOP
            label := format('edge #%s', i);
            IF jsonb_typeof(edge) <> 'object' OR jsonb_typeof(edge -> 'from') IS DISTINCT FROM 'string'
               OR jsonb_typeof(edge -> 'to') IS DISTINCT FROM 'string' THEN
                problems := problems || jsonb_build_object('code', 'TR100', 'item', label, 'message',
                    label || ' must be an object with string fields "from" and "to"');
                CONTINUE;
            END IF;
            from_key := edge ->> 'from';
            to_key := edge ->> 'to';
            label := format('edge %s -> %s', from_key, to_key);
            FOR msg IN SELECT jsonb_object_keys(edge) LOOP
                IF msg NOT IN ('from', 'to', 'label', 'condition') THEN
                    problems := problems || jsonb_build_object('code', 'TR100', 'item', label, 'message',
                        format('%s: unknown field "%s" (expected from, to, label, condition)', label, msg));
                END IF;
            END LOOP;
            from_pos := (position_of ->> from_key)::int;
            to_pos := (position_of ->> to_key)::int;
            IF from_pos IS NULL THEN
                problems := problems || jsonb_build_object('code', 'TR104', 'item', label, 'message',
                    format('%s: node "%s" does not exist', label, from_key));
            END IF;
            IF to_pos IS NULL THEN
                problems := problems || jsonb_build_object('code', 'TR104', 'item', label, 'message',
                    format('%s: node "%s" does not exist', label, to_key));
            END IF;
            IF from_pos IS NULL OR to_pos IS NULL THEN
                CONTINUE;
            END IF;
            IF from_pos = to_pos THEN
                problems := problems || jsonb_build_object('code', 'TR105', 'item', label, 'message',
                    format('%s: self-loop on node "%s"', label, from_key));
                CONTINUE;
            END IF;
            FOR j IN 1 .. m LOOP
                IF e_from[j] = from_pos AND e_to[j] = to_pos THEN
                    problems := problems || jsonb_build_object('code', 'TR100', 'item', label, 'message', label || ' appears twice');
                    from_pos := NULL;
                    EXIT;
                END IF;
            END LOOP;
            CONTINUE WHEN from_pos IS NULL;
            IF edge ? 'label' AND jsonb_typeof(edge -> 'label') <> 'string' THEN
                problems := problems || jsonb_build_object('code', 'TR100', 'item', label, 'message', label || ': label must be a string');
            END IF;
            IF edge ? 'condition' AND (jsonb_typeof(edge -> 'condition') IS DISTINCT FROM 'string'
                OR NOT trellis.is_valid_jsonpath(edge ->> 'condition')) THEN
                problems := problems || jsonb_build_object('code', 'TR108', 'item', label, 'message',
                    format('%s: condition %s is not a valid JSONPath expression', label, edge -> 'condition'));
            END IF;
            m := m + 1;
            e_from := e_from || from_pos;
            e_to := e_to || to_pos;
            e_label := e_label || (edge ->> 'label');
            e_cond := e_cond || (edge ? 'condition');
        END LOOP;
    END IF;

    -- Graph: Kahn's algorithm gives levels; what it cannot order is on or behind a cycle.
    indeg := array_fill(0, ARRAY[greatest(n, 1)]);
    lvl := array_fill(0, ARRAY[greatest(n, 1)]);
    seen := array_fill(false, ARRAY[greatest(n, 1)]);
    FOR j IN 1 .. m LOOP
        indeg[e_to[j]] := indeg[e_to[j]] + 1;
    END LOOP;
    upstream := indeg;
    queue := '{}';
    FOR i IN 1 .. n LOOP
        IF indeg[i] = 0 THEN
            queue := queue || i;
        END IF;
    END LOOP;
    head := 1;
    WHILE head <= coalesce(array_length(queue, 1), 0) LOOP
        cur := queue[head];
        head := head + 1;
        seen[cur] := true;
        FOR j IN 1 .. m LOOP
            IF e_from[j] = cur THEN
                lvl[e_to[j]] := greatest(lvl[e_to[j]], lvl[cur] + 1);
                indeg[e_to[j]] := indeg[e_to[j]] - 1;
                IF indeg[e_to[j]] = 0 THEN
                    queue := queue || e_to[j];
                END IF;
            END IF;
        END LOOP;
    END LOOP;

    IF head - 1 < n THEN
        -- Name each cycle: breadth-first search from an unordered node back to itself.
        reported := array_fill(false, ARRAY[n]);
        FOR i IN 1 .. n LOOP
            CONTINUE WHEN seen[i] OR reported[i];
            parent := array_fill(0, ARRAY[n]);
            queue := ARRAY[i];
            head := 1;
            found := false;
            <<search>>
            WHILE head <= array_length(queue, 1) LOOP
                cur := queue[head];
                head := head + 1;
                FOR j IN 1 .. m LOOP
                    IF e_from[j] = cur AND NOT seen[e_to[j]] THEN
                        IF e_to[j] = i THEN
                            found := true;
                            EXIT search;
                        END IF;
                        IF parent[e_to[j]] = 0 THEN
                            parent[e_to[j]] := cur;
                            queue := queue || e_to[j];
                        END IF;
                    END IF;
                END LOOP;
            END LOOP;
            IF found THEN
                path := ARRAY[keys[i]];
                WHILE cur <> i LOOP
                    path := keys[cur] || path;
                    reported[cur] := true;
                    cur := parent[cur];
                END LOOP;
                reported[i] := true;
                path := keys[i] || path;
                problems := problems || jsonb_build_object('code', 'TR105', 'item', format('node "%s"', keys[i]), 'message',
                    format('cycle: %s', array_to_string(path, ' -> ')));
            END IF;
        END LOOP;
        FOR i IN 1 .. n LOOP
            IF NOT seen[i] AND NOT reported[i] THEN
                problems := problems || jsonb_build_object('code', 'TR106', 'item', format('node "%s"', keys[i]), 'message',
                    format('node "%s" is unreachable: it can only be reached through a cycle', keys[i]));
            END IF;
        END LOOP;
    END IF;

    -- Per-node checks that need the edges.
    FOR i IN 1 .. n LOOP
        label := format('node "%s"', keys[i]);
        IF kinds[i] = 'join' THEN
            IF upstream[i] < 2 THEN
                problems := problems || jsonb_build_object('code', 'TR112', 'item', label, 'message',
                    format('%s: a join needs at least two inputs, it has %s', label, upstream[i]));
            ELSIF nodes[i] ->> 'mode' = 'n' AND (nodes[i] ->> 'n') ~ '^[0-9]+$' AND (nodes[i] ->> 'n')::numeric > upstream[i] THEN
                problems := problems || jsonb_build_object('code', 'TR112', 'item', label, 'message',
                    format('%s: n = %s exceeds its %s inputs', label, nodes[i] ->> 'n', upstream[i]));
            END IF;
        END IF;
        IF kinds[i] = 'condition' THEN
            has_true := false;
            has_false := false;
            outgoing := 0;
            all_conditional := true;
            FOR j IN 1 .. m LOOP
                IF e_from[j] = i THEN
                    outgoing := outgoing + 1;
                    has_true := has_true OR e_label[j] = 'true';
                    has_false := has_false OR e_label[j] = 'false';
                    all_conditional := all_conditional AND e_cond[j];
                END IF;
            END LOOP;
            IF nodes[i] ? 'predicate' AND NOT (has_true AND has_false) THEN
                problems := problems || jsonb_build_object('code', 'TR111', 'item', label, 'message',
                    format('%s: a condition with a predicate needs both branches: edges labelled "true" and "false"', label));
            ELSIF NOT nodes[i] ? 'predicate' AND (outgoing = 0 OR NOT all_conditional) THEN
                problems := problems || jsonb_build_object('code', 'TR111', 'item', label, 'message',
                    format('%s: a condition needs a predicate, or a condition on every outgoing edge', label));
            END IF;
        END IF;
    END LOOP;

    -- Bindings: syntax always; targets only when the graph is a DAG (ancestry is defined).
    FOR i IN 1 .. n LOOP
        label := format('node "%s"', keys[i]);
        ancestors := NULL;
        FOR binding IN
            SELECT b FROM trellis.binding_references(nodes[i] -> 'input') AS b
            UNION ALL
            SELECT nodes[i] ->> 'items' WHERE kinds[i] = 'parallel' AND jsonb_typeof(nodes[i] -> 'items') = 'string'
        LOOP
            root := trellis.binding_root(binding);
            IF root IS NULL THEN
                problems := problems || jsonb_build_object('code', 'TR107', 'item', label, 'message',
                    format('%s: invalid binding "%s" (expected $input.field, $context.field or $<node_key>.path; use $$ for a literal $)',
                           label, binding));
                CONTINUE;
            END IF;
            CONTINUE WHEN root IN ('input', 'context');
            IF NOT position_of ? root THEN
                problems := problems || jsonb_build_object('code', 'TR107', 'item', label, 'message',
                    format('%s: binding "%s" refers to node "%s", which does not exist', label, binding, root));
                CONTINUE;
            END IF;
            CONTINUE WHEN NOT seen[i];
            IF ancestors IS NULL THEN
                ancestors := array_fill(false, ARRAY[n]);
                queue := ARRAY[i];
                head := 1;
                WHILE head <= array_length(queue, 1) LOOP
                    cur := queue[head];
                    head := head + 1;
                    FOR j IN 1 .. m LOOP
                        IF e_to[j] = cur AND NOT ancestors[e_from[j]] THEN
                            ancestors[e_from[j]] := true;
                            queue := queue || e_from[j];
                        END IF;
                    END LOOP;
                END LOOP;
            END IF;
            IF NOT ancestors[(position_of ->> root)::int] THEN
                problems := problems || jsonb_build_object('code', 'TR107', 'item', label, 'message',
                    format('%s: binding "%s" refers to node "%s", which is not upstream of it', label, binding, root));
            END IF;
        END LOOP;
    END LOOP;

    FOR i IN 1 .. n LOOP
        levels := levels || jsonb_build_object(keys[i], lvl[i]);
        upstream_json := upstream_json || jsonb_build_object(keys[i], upstream[i]);
    END LOOP;
    RETURN jsonb_build_object('problems', problems, 'levels', levels, 'upstream', upstream_json);
END;
$fn$;
