-- Every problem with a definition, one row each, without storing anything.
-- `code` is the SQLSTATE publish_workflow raises for it; `item` names the node or edge.
CREATE OR REPLACE FUNCTION trellis.validate_workflow(definition jsonb)
RETURNS TABLE (code text, item text, message text)
LANGUAGE sql STABLE AS $$
    SELECT p ->> 'code', p ->> 'item', p ->> 'message'
    FROM jsonb_array_elements(trellis.inspect_workflow(definition) -> 'problems') AS p
$$;
