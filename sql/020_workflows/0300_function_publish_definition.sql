-- Stores a validated definition as a new immutable version of its workflow, normalised
-- into workflow_nodes (with execution levels) and workflow_edges. Publishing a definition
-- identical to an existing version (same checksum of the jsonb text) returns that version
-- with created = false. A new workflow is owned by its author; a new version of an
-- existing one needs `edit`. Invalid definitions raise the first problem's code (see
-- inspect_workflow) with every problem in DETAIL, and write nothing.
CREATE OR REPLACE FUNCTION trellis.publish_definition(definition jsonb, author_id bigint, template_id bigint DEFAULT NULL)
RETURNS TABLE (workflow text, version integer, checksum text, created boolean)
LANGUAGE plpgsql AS $fn$
DECLARE
    info jsonb := trellis.inspect_workflow(definition);
    problem_count int := jsonb_array_length(info -> 'problems');
    wf_name text := definition ->> 'name';
    wf_id bigint;
    sum text := encode(sha256(convert_to(definition::text, 'UTF8')), 'hex');
    existing int;
    next_version int;
    new_version_id bigint;
    defaults jsonb := coalesce(definition -> 'defaults', '{}');
BEGIN
    IF problem_count > 0 THEN
        RAISE EXCEPTION USING
            ERRCODE = info -> 'problems' -> 0 ->> 'code',
            MESSAGE = info -> 'problems' -> 0 ->> 'message',
            DETAIL = CASE WHEN problem_count > 1 THEN format('%s more problem(s): %s', problem_count - 1,
                (SELECT string_agg(p ->> 'message', '; ') FROM jsonb_array_elements(info -> 'problems') WITH ORDINALITY AS t(p, i) WHERE i > 1))
                ELSE '' END,
            HINT = '`trellis workflow validate FILE` lists every problem';
    END IF;

    INSERT INTO trellis.workflows (name, description, owner_id)
    VALUES (wf_name, coalesce(definition ->> 'description', ''), author_id)
    ON CONFLICT (name) DO NOTHING
    RETURNING id INTO wf_id;
    IF wf_id IS NULL THEN
        -- Existing workflow: serialise publishers on its row so versions stay 1, 2, 3…
        SELECT w.id INTO wf_id FROM trellis.workflows w WHERE w.name = wf_name FOR UPDATE;
        PERFORM trellis.require_privilege(author_id, wf_id, 'edit');
    END IF;

    SELECT v.version INTO existing FROM trellis.workflow_versions v WHERE v.workflow_id = wf_id AND v.checksum = sum;
    IF existing IS NOT NULL THEN
        RETURN QUERY SELECT wf_name, existing, sum, false;
        RETURN;
    END IF;

    SELECT coalesce(max(v.version), 0) + 1 INTO next_version FROM trellis.workflow_versions v WHERE v.workflow_id = wf_id;
    INSERT INTO trellis.workflow_versions (workflow_id, version, definition, checksum, author_id, template_id)
    VALUES (wf_id, next_version, definition, sum, author_id, publish_definition.template_id)
    RETURNING id INTO new_version_id;

    INSERT INTO trellis.workflow_nodes (
        version_id, key, kind, handler, config, input,
        retry_max_attempts, retry_initial_delay_ms, retry_multiplier, retry_max_delay_ms, retry_jitter,
        timeout_ms, on_error, join_mode, join_n, execution_level, upstream_count, position)
    SELECT new_version_id, t.node ->> 'key', t.node ->> 'kind', t.node ->> 'handler',
           coalesce(t.node -> 'config', '{}') || jsonb_strip_nulls(jsonb_build_object(
               'predicate', t.node -> 'predicate', 'items', t.node -> 'items', 'concurrency', t.node -> 'concurrency',
               'prompt', t.node -> 'prompt', 'approvals', t.node -> 'approvals')),
           coalesce(t.node -> 'input', '{}'),
           coalesce((r.retry ->> 'max_attempts')::int, 1),
           coalesce(trellis.parse_duration_ms(r.retry -> 'initial_delay'), 1000),
           coalesce((r.retry ->> 'multiplier')::double precision, 2),
           greatest(coalesce(trellis.parse_duration_ms(r.retry -> 'max_delay'), 300000),
                    coalesce(trellis.parse_duration_ms(r.retry -> 'initial_delay'), 1000)),
           coalesce((r.retry ->> 'jitter')::boolean, true),
           trellis.parse_duration_ms(coalesce(t.node -> 'timeout', defaults -> 'timeout')),
           coalesce(t.node ->> 'on_error', defaults ->> 'on_error', 'fail'),
           CASE WHEN t.node ->> 'kind' = 'join' THEN coalesce(t.node ->> 'mode', 'all') END,
           CASE WHEN t.node ->> 'kind' = 'join' AND t.node ->> 'mode' = 'n' THEN (t.node ->> 'n')::int END,
           (info -> 'levels' ->> (t.node ->> 'key'))::int,
           (info -> 'upstream' ->> (t.node ->> 'key'))::int,
           t.pos::int
    FROM jsonb_array_elements(definition -> 'nodes') WITH ORDINALITY AS t(node, pos)
    CROSS JOIN LATERAL (SELECT coalesce(defaults -> 'retry', '{}') || coalesce(t.node -> 'retry', '{}') AS retry) r;

    INSERT INTO trellis.workflow_edges (version_id, from_node_id, to_node_id, condition, label)
    SELECT new_version_id, f.id, t.id, e.edge ->> 'condition', e.edge ->> 'label'
    FROM jsonb_array_elements(coalesce(definition -> 'edges', '[]')) AS e(edge)
    JOIN trellis.workflow_nodes f ON f.version_id = new_version_id AND f.key = e.edge ->> 'from'
    JOIN trellis.workflow_nodes t ON t.version_id = new_version_id AND t.key = e.edge ->> 'to';

    UPDATE trellis.workflows w SET description = coalesce(definition ->> 'description', '')
    WHERE w.id = wf_id AND w.description IS DISTINCT FROM coalesce(definition ->> 'description', '');

    RETURN QUERY SELECT wf_name, next_version, sum, true;
END;
$fn$;
