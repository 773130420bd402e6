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
