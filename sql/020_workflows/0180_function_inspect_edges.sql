-- inspect_workflow's edge pass: each edge must be an object naming existing nodes by
-- string `from` and `to`, with no unknown fields, no self-loop, no twin, a string label
-- and a valid JSONPath condition. Returns the problems and the good edges as parallel
-- arrays of node positions (see inspect_nodes), labels and whether each has a condition.
CREATE OR REPLACE FUNCTION trellis.inspect_edges(definition jsonb, position_of jsonb, OUT problems jsonb, OUT e_from int[],
                                                 OUT e_to int[], OUT e_label text[], OUT e_cond boolean[])
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
    edge jsonb;
    i int;
    label text;
    field text;
    from_key text;
    to_key text;
    from_pos int;
    to_pos int;
BEGIN
    problems := '[]';
    e_from := '{}';
    e_to := '{}';
    e_label := '{}';
    e_cond := '{}';
    IF jsonb_typeof(definition -> 'edges') IS DISTINCT FROM 'array' THEN
        RETURN;
    END IF;
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
        FOR field IN SELECT trellis.unknown_keys(edge, ARRAY['from', 'to', 'label', 'condition']) LOOP
            problems := problems || jsonb_build_object('code', 'TR100', 'item', label, 'message',
                format('%s: unknown field "%s" (expected from, to, label, condition)', label, field));
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
        CONTINUE WHEN from_pos IS NULL OR to_pos IS NULL;
        IF from_pos = to_pos THEN
            problems := problems || jsonb_build_object('code', 'TR105', 'item', label, 'message',
                format('%s: self-loop on node "%s"', label, from_key));
            CONTINUE;
        END IF;
        IF EXISTS (SELECT 1 FROM unnest(e_from, e_to) AS e(f, t) WHERE e.f = from_pos AND e.t = to_pos) THEN
            problems := problems || jsonb_build_object('code', 'TR100', 'item', label, 'message', label || ' appears twice');
            CONTINUE;
        END IF;
        IF edge ? 'label' AND jsonb_typeof(edge -> 'label') <> 'string' THEN
            problems := problems || jsonb_build_object('code', 'TR100', 'item', label, 'message', label || ': label must be a string');
        END IF;
        IF edge ? 'condition' AND (jsonb_typeof(edge -> 'condition') IS DISTINCT FROM 'string'
            OR NOT trellis.is_valid_jsonpath(edge ->> 'condition')) THEN
            problems := problems || jsonb_build_object('code', 'TR108', 'item', label, 'message',
                format('%s: condition %s is not a valid JSONPath expression', label, edge -> 'condition'));
        END IF;
        e_from := e_from || from_pos;
        e_to := e_to || to_pos;
        e_label := e_label || (edge ->> 'label');
        e_cond := e_cond || (edge ? 'condition');
    END LOOP;
END;
$fn$;
