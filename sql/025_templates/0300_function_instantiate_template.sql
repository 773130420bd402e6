-- Fills a template's placeholders with `params` and publishes the result as a version of
-- workflow `workflow_name` (the usual publish rules and validation apply; the version
-- records the template it came from). Parameters are type-checked; unknown ones (TR121),
-- missing required ones (TR122) and wrong types (TR123) are refused by name.
CREATE OR REPLACE FUNCTION trellis.instantiate_template(
    template text, params jsonb, workflow_name text, author text DEFAULT 'admin', template_version integer DEFAULT NULL
) RETURNS TABLE (workflow text, version integer, checksum text, created boolean)
LANGUAGE plpgsql AS $fn$
DECLARE
    author_id bigint := trellis.principal_id(author);
    tpl trellis.workflow_templates;
    param jsonb;
    resolved jsonb := '{}';
    param_value jsonb;
    unknown text;
    missing text[] := '{}';
BEGIN
    SELECT * INTO tpl FROM trellis.workflow_templates t
    WHERE t.name = template AND (template_version IS NULL OR t.version = template_version)
    ORDER BY t.version DESC LIMIT 1;
    IF tpl.id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'TR404',
            MESSAGE = CASE WHEN template_version IS NULL THEN format('unknown template "%s"', template)
                           ELSE format('template "%s" has no version %s', template, template_version) END;
    END IF;
    params := coalesce(params, '{}');
    IF jsonb_typeof(params) <> 'object' THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'template parameters must be a JSON object';
    END IF;
    SELECT string_agg(format('"%s"', k), ', ') INTO unknown
    FROM trellis.unknown_keys(params, ARRAY(SELECT p ->> 'name' FROM jsonb_array_elements(tpl.parameters) p)) AS k;
    IF unknown IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'TR121',
            MESSAGE = format('template "%s" has no parameter %s', template, unknown),
            HINT = format('its parameters: %s', (SELECT coalesce(string_agg(p ->> 'name', ', '), 'none') FROM jsonb_array_elements(tpl.parameters) p));
    END IF;
    FOR param IN SELECT p FROM jsonb_array_elements(tpl.parameters) AS p LOOP
        IF params ? (param ->> 'name') THEN
            param_value := params -> (param ->> 'name');
        ELSIF param ? 'default' THEN
            param_value := param -> 'default';
        ELSIF coalesce((param ->> 'required')::boolean, true) THEN
            missing := missing || (param ->> 'name');
            CONTINUE;
        ELSE
            param_value := 'null';
        END IF;
        IF jsonb_typeof(param_value) <> 'null' AND NOT trellis.matches_parameter_type(param_value, param ->> 'type') THEN
            RAISE EXCEPTION USING ERRCODE = 'TR123',
                MESSAGE = format('template "%s": parameter "%s" must be of type %s, got %s', template, param ->> 'name', param ->> 'type', param_value);
        END IF;
        resolved := resolved || jsonb_build_object(param ->> 'name', param_value);
    END LOOP;
    IF cardinality(missing) > 0 THEN
        RAISE EXCEPTION USING ERRCODE = 'TR122',
            MESSAGE = format('template "%s" needs parameter(s) %s', template, array_to_string(missing, ', '));
    END IF;
    RETURN QUERY SELECT * FROM trellis.publish_definition(
        trellis.fill_placeholders(tpl.definition, resolved) || jsonb_build_object('name', workflow_name),
        author_id, tpl.id);
END;
$fn$;
