-- The principal a token hash authenticates, or TR401 (unknown, revoked or expired).
-- last_used_at is refreshed at most once a minute, so authentication is a read.
CREATE OR REPLACE FUNCTION trellis.authenticate_token(token_hash bytea) RETURNS text
LANGUAGE plpgsql AS $fn$
DECLARE
    t trellis.api_tokens;
    who text;
BEGIN
    SELECT * INTO t FROM trellis.api_tokens a WHERE a.token_hash = authenticate_token.token_hash;
    IF t.id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'TR401', MESSAGE = 'unknown token';
    ELSIF t.revoked_at IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'TR401', MESSAGE = format('token %s was revoked', t.prefix);
    ELSIF t.expires_at IS NOT NULL AND t.expires_at <= now() THEN
        RAISE EXCEPTION USING ERRCODE = 'TR401', MESSAGE = format('token %s expired', t.prefix);
    END IF;
    IF (SELECT p.disabled_at IS NOT NULL FROM trellis.principals p WHERE p.id = t.principal_id) THEN
        RAISE EXCEPTION USING ERRCODE = 'TR401', MESSAGE = format('token %s belongs to a disabled principal', t.prefix);
    END IF;
    IF t.last_used_at IS NULL OR t.last_used_at < now() - interval '1 minute' THEN
        UPDATE trellis.api_tokens SET last_used_at = now() WHERE id = t.id;
    END IF;
    SELECT p.name INTO who FROM trellis.principals p WHERE p.id = t.principal_id;
    RETURN who;
END;
$fn$;
