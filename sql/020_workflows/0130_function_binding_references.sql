-- Every binding string in a node's input template: string values starting with `$`
-- (`$$…` escapes a literal dollar). Returned as written, in document order.
CREATE OR REPLACE FUNCTION trellis.binding_references(template jsonb) RETURNS SETOF text
LANGUAGE sql IMMUTABLE AS $fn$
    SELECT v #>> '{}'
    FROM jsonb_path_query(coalesce(template, 'null'::jsonb), 'strict $.**') AS v
    WHERE jsonb_typeof(v) = 'string'
      AND left(v #>> '{}', 1) = '$'
      AND left(v #>> '{}', 2) <> '$$'
$fn$;
