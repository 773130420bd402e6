-- Explicit grants, plus each workflow's owner (who holds every privilege).
SELECT w.name AS workflow, p.name AS principal, wp.privilege, g.name AS granted_by, wp.granted_at
FROM trellis.workflow_permissions wp
JOIN trellis.workflows w ON w.id = wp.workflow_id
JOIN trellis.principals p ON p.id = wp.principal_id
LEFT JOIN trellis.principals g ON g.id = wp.granted_by
WHERE $1::text IS NULL OR w.name = $1::text
UNION ALL
SELECT w.name, o.name, 'owner', NULL, w.created_at
FROM trellis.workflows w
JOIN trellis.principals o ON o.id = w.owner_id
WHERE $1::text IS NULL OR w.name = $1::text
ORDER BY 1, 2, 3
