-- Resolves an active principal by name. Unknown: TR404; disabled: 42501.
CREATE OR REPLACE FUNCTION trellis.principal_id(principal text) RETURNS bigint
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
    found_id bigint;
    disabled timestamptz;
BEGIN
    SELECT id, disabled_at INTO found_id, disabled FROM trellis.principals WHERE name = principal;
    IF found_id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'TR404', MESSAGE = format('unknown principal "%s"', principal),
            HINT = 'create it with `trellis principal create NAME`';
    END IF;
    IF disabled IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = '42501', MESSAGE = format('principal "%s" is disabled', principal);
    END IF;
    RETURN found_id;
END;
$fn$;
