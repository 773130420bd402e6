-- Revokes a token by id or prefix; false when it was already revoked.
CREATE OR REPLACE FUNCTION trellis.revoke_token(token text, actor text DEFAULT 'admin') RETURNS boolean
LANGUAGE plpgsql AS $fn$
DECLARE
    t trellis.api_tokens;
BEGIN
    PERFORM trellis.require_administrator(trellis.principal_id(actor), 'revoke tokens');
    SELECT * INTO t FROM trellis.api_tokens a
    WHERE a.prefix = token OR (token ~ '^[0-9]{1,18}$' AND a.id = token::bigint)
    FOR UPDATE;
    IF t.id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'TR404', MESSAGE = format('unknown token "%s"', token);
    END IF;
    IF t.revoked_at IS NOT NULL THEN
        RETURN false;
    END IF;
    UPDATE trellis.api_tokens SET revoked_at = now() WHERE id = t.id;
    RETURN true;
END;
$fn$;
