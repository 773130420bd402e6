-- GET /v1/principals (administrators): every principal with kind, roles and state.
CREATE OR REPLACE FUNCTION trellis.list_principals(actor text) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $fn$
BEGIN
    PERFORM trellis.require_administrator(trellis.principal_id(actor), 'list principals');
    RETURN (SELECT coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
                'name', p.name, 'kind', p.kind, 'display_name', p.display_name, 'is_admin', p.is_admin,
                'disabled_at', p.disabled_at, 'created_at', p.created_at,
                'roles', (SELECT coalesce(jsonb_agg(r.name ORDER BY r.name), '[]'::jsonb)
                          FROM trellis.principal_roles pr JOIN trellis.principals r ON r.id = pr.role_id
                          WHERE pr.principal_id = p.id))) ORDER BY p.name), '[]'::jsonb)
            FROM trellis.principals p);
END;
$fn$;
