-- Whether a string parses as a PostgreSQL SQL/JSON path (used for condition predicates).
CREATE OR REPLACE FUNCTION trellis.is_valid_jsonpath(path text) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    PERFORM path::jsonpath;
    RETURN true;
EXCEPTION WHEN OTHERS THEN
    RETURN false;
END;
$$;
