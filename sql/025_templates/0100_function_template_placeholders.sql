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
