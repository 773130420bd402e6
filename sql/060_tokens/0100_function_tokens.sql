-- API tokens for the relay. The token itself never reaches the database: clients hash
-- it (SHA-256) and only the hash is stored and looked up; `prefix` (the first characters
-- of the token) names it in listings. Administrators create and revoke tokens.

-- Stores a new token for `principal`; returns its id.
CREATE OR REPLACE FUNCTION trellis.create_token(principal text, token_hash bytea, prefix text, description text DEFAULT '',
                                                expires_at timestamptz DEFAULT NULL, actor text DEFAULT 'admin')
RETURNS bigint
LANGUAGE plpgsql AS $fn$
DECLARE
    owner_id bigint := trellis.principal_id(principal);
    new_id bigint;
BEGIN
    PERFORM trellis.require_administrator(trellis.principal_id(actor), 'create tokens');
    IF (SELECT p.kind FROM trellis.principals p WHERE p.id = owner_id) = 'role' THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('"%s" is a role; tokens belong to users and services', principal);
    END IF;
    IF token_hash IS NULL OR length(token_hash) <> 32 THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'token_hash must be a 32-byte SHA-256 digest';
    END IF;
    IF expires_at IS NOT NULL AND expires_at <= now() THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('expiry %s is in the past', expires_at);
    END IF;
    INSERT INTO trellis.api_tokens (principal_id, token_hash, prefix, description, expires_at)
    VALUES (owner_id, token_hash, prefix, coalesce(description, ''), expires_at)
    RETURNING id INTO new_id;
    RETURN new_id;
END;
$fn$;

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
