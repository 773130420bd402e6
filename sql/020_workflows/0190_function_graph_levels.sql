-- inspect_workflow's graph pass over n nodes and the edges e_from[j] -> e_to[j] (node
-- positions): Kahn's algorithm gives each node's level (longest distance from a root) and
-- upstream count; what it cannot order is on or behind a cycle. Each cycle is named by a
-- breadth-first search from an unordered node back to itself (TR105); nodes behind one are
-- unreachable (TR106). `seen` marks the ordered nodes.
CREATE OR REPLACE FUNCTION trellis.graph_levels(keys text[], e_from int[], e_to int[], OUT problems jsonb, OUT levels int[],
                                                OUT upstream int[], OUT seen boolean[])
LANGUAGE plpgsql IMMUTABLE AS $fn$
DECLARE
    n int := cardinality(keys);
    m int := cardinality(e_from);
    indeg int[] := array_fill(0, ARRAY[greatest(n, 1)]);
    queue int[] := '{}';
    head int := 1;
    cur int;
    i int;
    j int;
    parent int[];
    reported boolean[];
    found boolean;
    path text[];
BEGIN
    problems := '[]';
    levels := array_fill(0, ARRAY[greatest(n, 1)]);
    seen := array_fill(false, ARRAY[greatest(n, 1)]);
    FOR j IN 1 .. m LOOP
        indeg[e_to[j]] := indeg[e_to[j]] + 1;
    END LOOP;
    upstream := indeg;
    FOR i IN 1 .. n LOOP
        IF indeg[i] = 0 THEN
            queue := queue || i;
        END IF;
    END LOOP;
    WHILE head <= coalesce(array_length(queue, 1), 0) LOOP
        cur := queue[head];
        head := head + 1;
        seen[cur] := true;
        FOR j IN 1 .. m LOOP
            IF e_from[j] = cur THEN
                levels[e_to[j]] := greatest(levels[e_to[j]], levels[cur] + 1);
                indeg[e_to[j]] := indeg[e_to[j]] - 1;
                IF indeg[e_to[j]] = 0 THEN
                    queue := queue || e_to[j];
                END IF;
            END IF;
        END LOOP;
    END LOOP;
    IF head - 1 >= n THEN
        RETURN;
    END IF;
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
END;
$fn$;
