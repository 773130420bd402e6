-- Tokens (never their secret): owner, prefix, description, times.
SELECT t.id, p.name AS principal, t.prefix, t.description, t.created_at, t.expires_at, t.revoked_at, t.last_used_at
FROM trellis.api_tokens t JOIN trellis.principals p ON p.id = t.principal_id
WHERE $1::text IS NULL OR p.name = $1::text
ORDER BY t.created_at, t.id
