-- GET /v1/grants[?workflow=] (administrators): explicit grants, plus each workflow's owner
-- (who holds every privilege on it) as privilege `owner`.
CREATE OR REPLACE FUNCTION trellis.list_grants(actor text, workflow text DEFAULT NULL) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
    wf_id bigint := CASE WHEN workflow IS NOT NULL THEN trellis.workflow_id(workflow) END;
BEGIN
    PERFORM trellis.require_administrator(trellis.principal_id(actor), 'list grants');
    RETURN (SELECT coalesce(jsonb_agg(jsonb_strip_nulls(g.item) ORDER BY g.item ->> 'workflow', g.item ->> 'principal', g.item ->> 'privilege'), '[]'::jsonb)
            FROM (
                SELECT jsonb_build_object('workflow', w.name, 'principal', p.name, 'privilege', wp.privilege,
                                          'granted_by', gb.name, 'granted_at', wp.granted_at) AS item
                FROM trellis.workflow_permissions wp
                JOIN trellis.workflows w ON w.id = wp.workflow_id
                JOIN trellis.principals p ON p.id = wp.principal_id
                LEFT JOIN trellis.principals gb ON gb.id = wp.granted_by
                WHERE wf_id IS NULL OR w.id = wf_id
                UNION ALL
                SELECT jsonb_build_object('workflow', w.name, 'principal', o.name, 'privilege', 'owner', 'granted_at', w.created_at)
                FROM trellis.workflows w JOIN trellis.principals o ON o.id = w.owner_id
                WHERE wf_id IS NULL OR w.id = wf_id) g);
END;
$fn$;
