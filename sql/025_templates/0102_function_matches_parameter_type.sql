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
