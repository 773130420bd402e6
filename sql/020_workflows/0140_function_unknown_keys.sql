-- The keys of a JSON object that are not in `allowed`, in the object's key order: the one
-- check behind every "unknown field" refusal (definitions, nodes, edges, retry policies,
-- run options, templates). Each caller words its own message and code, so refusals keep
-- naming the item they are about.
CREATE OR REPLACE FUNCTION trellis.unknown_keys(obj jsonb, allowed text[]) RETURNS SETOF text
LANGUAGE sql IMMUTABLE AS $fn$
    SELECT k FROM jsonb_object_keys(obj) AS k WHERE k <> ALL (allowed)
$fn$;
