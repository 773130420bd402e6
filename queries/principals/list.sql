SELECT p.name, p.kind, p.display_name, p.is_admin, p.disabled_at, p.created_at,
       coalesce((SELECT string_agg(r.name, ',' ORDER BY r.name) FROM trellis.principal_roles pr
                 JOIN trellis.principals r ON r.id = pr.role_id WHERE pr.principal_id = p.id), '') AS roles
FROM trellis.principals p
ORDER BY p.name
