-- inspect_node's checks of the settings only some kinds take: a condition's predicate, a
-- join's mode and n, a parallel node's items and concurrency, a human_gate's approvals
-- and prompt. Returns the problems.
CREATE OR REPLACE FUNCTION trellis.inspect_kind_settings(node jsonb, kind text, label text) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
    problems jsonb := '[]';
    msg text;
BEGIN
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
        msg := trellis.approvals_problem(node -> 'approvals');
        IF msg IS NOT NULL THEN
            problems := problems || jsonb_build_object('code', 'TR113', 'item', label, 'message', label || ': ' || msg);
        END IF;
    ELSIF kind <> 'human_gate' AND (node ? 'approvals' OR node ? 'prompt') THEN
        problems := problems || jsonb_build_object('code', 'TR100', 'item', label, 'message',
            format('%s: only human_gate nodes take approvals and prompt', label));
    END IF;
    RETURN problems;
END;
$fn$;
