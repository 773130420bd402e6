-- Raises 42501 unless the principal is an administrator; `action` completes
-- "principal "x" may not …" in the message.
CREATE OR REPLACE FUNCTION trellis.require_administrator(principal_id bigint, action text) RETURNS void
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
    who trellis.principals;
BEGIN
    SELECT * INTO who FROM trellis.principals p WHERE p.id = principal_id;
    IF NOT coalesce(who.is_admin, false) THEN
        RAISE EXCEPTION USING ERRCODE = '42501',
            MESSAGE = format('principal "%s" may not %s (administrators only)', who.name, action);
    END IF;
END;
$fn$;
