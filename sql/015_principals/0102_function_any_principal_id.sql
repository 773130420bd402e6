-- Resolves a principal by name whether or not it is disabled (filters and listings name
-- disabled principals too; principal_id refuses them). Unknown: TR404.
CREATE OR REPLACE FUNCTION trellis.any_principal_id(principal text) RETURNS bigint
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
    found_id bigint;
BEGIN
    SELECT p.id INTO found_id FROM trellis.principals p WHERE p.name = principal;
    IF found_id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'TR404', MESSAGE = format('unknown principal "%s"', principal);
    END IF;
    RETURN found_id;
END;
$fn$;
