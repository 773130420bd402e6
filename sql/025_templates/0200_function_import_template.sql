-- Stores a template as a new immutable version (administrators only). A template is
-- {"name", "description", "parameters": [{"name", "type", "default", "required",
-- "description"}], "definition": {…with {{ placeholders }}…}}. Importing an identical
-- template again returns the existing version with created = false.
-- Errors: TR120 (malformed template, unknown placeholder), 42501, TR404.
CREATE OR REPLACE FUNCTION trellis.import_template(template jsonb, author text DEFAULT 'admin')
RETURNS TABLE (name text, version integer, checksum text, created boolean)
LANGUAGE plpgsql AS $fn$
DECLARE
    author_id bigint := trellis.principal_id(author);
    t_name text := template ->> 'name';
    param jsonb;
    declared text[] := '{}';
    p_name text;
    sum text;
    existing int;
    next_version int;
    field text;
BEGIN
    PERFORM trellis.require_administrator(author_id, 'import templates');
    IF template IS NULL OR jsonb_typeof(template) <> 'object' THEN
        RAISE EXCEPTION USING ERRCODE = 'TR120', MESSAGE = 'a template must be a JSON object';
    END IF;
    FOR field IN SELECT trellis.unknown_keys(template, ARRAY['name', 'description', 'parameters', 'definition']) LOOP
        RAISE EXCEPTION USING ERRCODE = 'TR120',
            MESSAGE = format('template: unknown field "%s" (expected name, description, parameters, definition)', field);
    END LOOP;
    IF jsonb_typeof(template -> 'name') IS DISTINCT FROM 'string' OR t_name !~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$' THEN
        RAISE EXCEPTION USING ERRCODE = 'TR120',
            MESSAGE = format('template name must be 1-128 letters, digits, "_", "." or "-", got %s', coalesce((template -> 'name')::text, 'nothing'));
    END IF;
    IF jsonb_typeof(template -> 'definition') IS DISTINCT FROM 'object' THEN
        RAISE EXCEPTION USING ERRCODE = 'TR120', MESSAGE = format('template "%s": definition must be an object', t_name);
    END IF;
    IF template ? 'parameters' AND jsonb_typeof(template -> 'parameters') <> 'array' THEN
        RAISE EXCEPTION USING ERRCODE = 'TR120', MESSAGE = format('template "%s": parameters must be an array', t_name);
    END IF;
    FOR param IN SELECT value FROM jsonb_array_elements(coalesce(template -> 'parameters', '[]')) LOOP
        p_name := param ->> 'name';
        IF jsonb_typeof(param) <> 'object' OR p_name IS NULL OR p_name !~ '^[A-Za-z_][A-Za-z0-9_]{0,62}$' THEN
            RAISE EXCEPTION USING ERRCODE = 'TR120',
                MESSAGE = format('template "%s": every parameter needs a name (letters, digits, "_"), got %s', t_name, param);
        END IF;
        IF p_name = ANY(declared) THEN
            RAISE EXCEPTION USING ERRCODE = 'TR120', MESSAGE = format('template "%s": parameter "%s" is declared twice', t_name, p_name);
        END IF;
        declared := declared || p_name;
        IF param ->> 'type' IS NULL OR param ->> 'type' NOT IN ('string', 'integer', 'number', 'boolean', 'object', 'array') THEN
            RAISE EXCEPTION USING ERRCODE = 'TR120',
                MESSAGE = format('template "%s": parameter "%s" has type %s (expected string, integer, number, boolean, object or array)',
                                 t_name, p_name, coalesce((param -> 'type')::text, 'nothing'));
        END IF;
        IF param ? 'default' AND NOT trellis.matches_parameter_type(param -> 'default', param ->> 'type') THEN
            RAISE EXCEPTION USING ERRCODE = 'TR120',
                MESSAGE = format('template "%s": default %s of parameter "%s" is not of type %s', t_name, param -> 'default', p_name, param ->> 'type');
        END IF;
        IF param ? 'required' AND jsonb_typeof(param -> 'required') <> 'boolean' THEN
            RAISE EXCEPTION USING ERRCODE = 'TR120', MESSAGE = format('template "%s": parameter "%s": required must be true or false', t_name, p_name);
        END IF;
    END LOOP;
    SELECT p INTO p_name FROM trellis.template_placeholders(template -> 'definition') AS p WHERE p <> ALL(declared) LIMIT 1;
    IF p_name IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'TR120',
            MESSAGE = format('template "%s": placeholder {{%s}} is not a declared parameter', t_name, p_name);
    END IF;

    sum := encode(sha256(convert_to(template::text, 'UTF8')), 'hex');
    PERFORM pg_advisory_xact_lock(hashtext('trellis.template:' || t_name));
    SELECT t.version INTO existing FROM trellis.workflow_templates t WHERE t.name = t_name AND t.checksum = sum;
    IF existing IS NOT NULL THEN
        RETURN QUERY SELECT t_name, existing, sum, false;
        RETURN;
    END IF;
    SELECT coalesce(max(t.version), 0) + 1 INTO next_version FROM trellis.workflow_templates t WHERE t.name = t_name;
    INSERT INTO trellis.workflow_templates (name, version, description, parameters, definition, checksum, author_id)
    VALUES (t_name, next_version, coalesce(template ->> 'description', ''), coalesce(template -> 'parameters', '[]'),
            template -> 'definition', sum, author_id);
    RETURN QUERY SELECT t_name, next_version, sum, true;
END;
$fn$;
