-- inspect_workflow's binding pass: every `$…` string in a node's input (and a parallel
-- node's items) must be well formed and name input, context or an existing node; the
-- named node must be upstream of the binding node, which is checked for nodes the graph
-- pass could order (`seen`; ancestry is undefined on a cycle). Returns the problems.
CREATE OR REPLACE FUNCTION trellis.inspect_bindings(keys text[], kinds text[], nodes jsonb[], position_of jsonb, seen boolean[],
                                                    e_from int[], e_to int[]) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
    problems jsonb := '[]';
    label text;
    binding text;
    root text;
    ancestors boolean[];
    queue int[];
    head int;
    cur int;
    i int;
    j int;
BEGIN
    FOR i IN 1 .. cardinality(keys) LOOP
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
                ancestors := array_fill(false, ARRAY[cardinality(keys)]);
                queue := ARRAY[i];
                head := 1;
                WHILE head <= array_length(queue, 1) LOOP
                    cur := queue[head];
                    head := head + 1;
                    FOR j IN 1 .. cardinality(e_from) LOOP
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
    RETURN problems;
END;
$fn$;
