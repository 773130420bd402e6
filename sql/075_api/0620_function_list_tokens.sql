-- GET /v1/tokens[?principal=] (administrators): tokens by owner, never their secret.
CREATE OR REPLACE FUNCTION trellis.list_tokens(actor text, owner text DEFAULT NULL) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
    owner_id bigint;
BEGIN
    PERFORM trellis.require_administrator(trellis.principal_id(actor), 'list tokens');
    IF owner IS NOT NULL THEN
        -- Not principal_id(): a disabled principal's tokens are still worth listing.
        owner_id := trellis.any_principal_id(owner);
    END IF;
    RETURN (SELECT coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
                'id', t.id, 'principal', p.name, 'prefix', t.prefix, 'description', t.description,
                'created_at', t.created_at, 'expires_at', t.expires_at, 'revoked_at', t.revoked_at,
                'last_used_at', t.last_used_at)) ORDER BY t.created_at, t.id), '[]'::jsonb)
            FROM trellis.api_tokens t JOIN trellis.principals p ON p.id = t.principal_id
            WHERE owner_id IS NULL OR t.principal_id = owner_id);
END;
$fn$;
