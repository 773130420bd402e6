-- The root of a well-formed binding (`input`, `context` or a node key), or NULL when the
-- string is not `$root(.field|[index])*`.
CREATE OR REPLACE FUNCTION trellis.binding_root(binding text) RETURNS text
LANGUAGE sql IMMUTABLE AS $fn$
    SELECT (regexp_match(binding, '^\$([A-Za-z_][A-Za-z0-9_]*)((\.[A-Za-z_][A-Za-z0-9_]*)|(\[[0-9]+\]))*$'))[1]
$fn$;
