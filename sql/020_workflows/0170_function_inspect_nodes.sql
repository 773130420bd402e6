-- inspect_workflow's node pass: each node must be an object with a valid, unreserved,
-- unique key; its fields are checked by inspect_node. Returns the problems and, for the
-- nodes with good keys, in order: their keys, kinds ('' when missing), documents, and
-- each key's position (1-based) — what the later passes work on.
CREATE OR REPLACE FUNCTION trellis.inspect_nodes(definition jsonb, OUT problems jsonb, OUT keys text[], OUT kinds text[],
                                                 OUT nodes jsonb[], OUT position_of jsonb)
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
    node jsonb;
    i int;
    k text;
    label text;
    ordinals int[] := '{}';
BEGIN
    problems := '[]';
    keys := '{}';
    kinds := '{}';
    nodes := '{}';
    position_of := '{}';
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
        keys := keys || k;
        ordinals := ordinals || i;
        nodes := nodes || node;
        position_of := position_of || jsonb_build_object(k, cardinality(keys));
        kinds := kinds || coalesce(node ->> 'kind', '');
        problems := problems || trellis.inspect_node(node, label);
    END LOOP;
END;
$fn$;
