-- Names of the `{{ name }}` placeholders used anywhere in a template's definition
-- (in string values; a string that is exactly one placeholder takes the parameter's
-- JSON value, a placeholder inside a longer string its text).
CREATE OR REPLACE FUNCTION trellis.template_placeholders(definition jsonb) RETURNS SETOF text
LANGUAGE sql IMMUTABLE AS $fn$
    SELECT DISTINCT m[1]
    FROM jsonb_path_query(definition, 'strict $.**') AS v,
         regexp_matches(v #>> '{}', '\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}', 'g') AS m
    WHERE jsonb_typeof(v) = 'string'
$fn$;

-- Replaces placeholders with parameter values (see template_placeholders).
CREATE OR REPLACE FUNCTION trellis.fill_placeholders(doc jsonb, params jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $fn$
DECLARE
    text_value text;
    whole text[];
    match text[];
    replacement text;
BEGIN
    CASE jsonb_typeof(doc)
    WHEN 'object' THEN
        RETURN coalesce((SELECT jsonb_object_agg(key, trellis.fill_placeholders(value, params)) FROM jsonb_each(doc)), '{}'::jsonb);
    WHEN 'array' THEN
        RETURN coalesce((SELECT jsonb_agg(trellis.fill_placeholders(value, params) ORDER BY ord)
                         FROM jsonb_array_elements(doc) WITH ORDINALITY AS t(value, ord)), '[]'::jsonb);
    WHEN 'string' THEN
        text_value := doc #>> '{}';
        whole := regexp_match(text_value, '^\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}$');
        IF whole IS NOT NULL THEN
            RETURN coalesce(params -> whole[1], 'null'::jsonb);
        END IF;
        FOR match IN SELECT regexp_matches(text_value, '(\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\})', 'g') LOOP
            replacement := CASE jsonb_typeof(params -> match[2])
                               WHEN 'string' THEN params ->> match[2]
                               ELSE coalesce((params -> match[2])::text, '')
                           END;
            text_value := replace(text_value, match[1], replacement);
        END LOOP;
        RETURN to_jsonb(text_value);
    ELSE
        RETURN doc;
    END CASE;
END;
$fn$;

-- Whether a JSON value has a template parameter type.
CREATE OR REPLACE FUNCTION trellis.matches_parameter_type(value jsonb, type text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $fn$
    SELECT CASE type
        WHEN 'string' THEN jsonb_typeof(value) = 'string'
        WHEN 'integer' THEN jsonb_typeof(value) = 'number' AND (value #>> '{}')::numeric = trunc((value #>> '{}')::numeric)
        WHEN 'number' THEN jsonb_typeof(value) = 'number'
        WHEN 'boolean' THEN jsonb_typeof(value) = 'boolean'
        WHEN 'object' THEN jsonb_typeof(value) = 'object'
        WHEN 'array' THEN jsonb_typeof(value) = 'array'
        ELSE false
    END
$fn$;
