-- Resolves a node's input template against the run data
-- {"input": …, "context": …, "<node_key>": output…}: every string `$root.path[0].x`
-- becomes the value at that path (JSON null when absent); `$$…` becomes the literal `$…`;
-- anything else is kept as is. A path into a node output that was stored as an artifact
-- (over the inline cap: {"$artifact", "truncated": true, "preview"}) is resolved against
-- the stored value; binding the whole node keeps the reference (the scheduler expands it
-- for the handler).
CREATE OR REPLACE FUNCTION trellis.resolve_bindings(template jsonb, data jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
    text_value text;
    root text;
    path text[];
    source jsonb;
BEGIN
    CASE jsonb_typeof(template)
    WHEN 'object' THEN
        RETURN coalesce((SELECT jsonb_object_agg(key, trellis.resolve_bindings(value, data)) FROM jsonb_each(template)), '{}'::jsonb);
    WHEN 'array' THEN
        RETURN coalesce((SELECT jsonb_agg(trellis.resolve_bindings(value, data) ORDER BY ord)
                         FROM jsonb_array_elements(template) WITH ORDINALITY AS t(value, ord)), '[]'::jsonb);
    WHEN 'string' THEN
        text_value := template #>> '{}';
        IF left(text_value, 2) = '$$' THEN
            RETURN to_jsonb(substr(text_value, 2));
        END IF;
        root := trellis.binding_root(text_value);
        IF root IS NULL THEN
            RETURN template;
        END IF;
        SELECT ARRAY[root] || coalesce(array_agg(coalesce(m[1], m[2]) ORDER BY ord), '{}')
        INTO path
        FROM regexp_matches(substr(text_value, length(root) + 2), '\.([A-Za-z_][A-Za-z0-9_]*)|\[([0-9]+)\]', 'g')
             WITH ORDINALITY AS t(m, ord);
        source := data -> root;
        IF cardinality(path) > 1 AND jsonb_typeof(source) = 'object' AND source ? '$artifact' AND source ? 'preview'
           AND source -> 'truncated' = 'true'::jsonb THEN
            RETURN coalesce(trellis.stored_output(source ->> '$artifact') #> path[2:], 'null'::jsonb);
        END IF;
        RETURN coalesce(data #> path, 'null'::jsonb);
    ELSE
        RETURN template;
    END CASE;
END;
$fn$;
