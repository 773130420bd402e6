-- inspect_workflow's checks that need the edges: a join has at least two inputs and no
-- larger n than it has; a condition with a predicate has both a "true" and a "false"
-- branch, one without has a condition on every outgoing edge. Returns the problems.
CREATE OR REPLACE FUNCTION trellis.inspect_branches(keys text[], kinds text[], nodes jsonb[], upstream int[], e_from int[],
                                                    e_label text[], e_cond boolean[]) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $fn$
DECLARE
    problems jsonb := '[]';
    label text;
    i int;
    j int;
    has_true boolean;
    has_false boolean;
    outgoing int;
    all_conditional boolean;
BEGIN
    FOR i IN 1 .. cardinality(keys) LOOP
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
        CONTINUE WHEN kinds[i] <> 'condition';
        has_true := false;
        has_false := false;
        outgoing := 0;
        all_conditional := true;
        FOR j IN 1 .. cardinality(e_from) LOOP
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
    END LOOP;
    RETURN problems;
END;
$fn$;
