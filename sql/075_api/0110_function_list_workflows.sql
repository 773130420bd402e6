-- GET /v1/workflows: the workflows `principal` may view, by name, each with its latest
-- version, version count, active runs and the principal's own privileges on it.
CREATE OR REPLACE FUNCTION trellis.list_workflows(principal text) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
    who bigint := trellis.principal_id(principal);
BEGIN
    RETURN (SELECT coalesce(jsonb_agg(x.item ORDER BY x.name), '[]'::jsonb) FROM (
        SELECT w.name, jsonb_build_object(
                   'name', w.name, 'description', w.description, 'owner', o.name,
                   'latest_version', v.version, 'published_at', v.created_at,
                   'versions', (SELECT count(*) FROM trellis.workflow_versions c WHERE c.workflow_id = w.id),
                   'active_runs', (SELECT count(*) FROM trellis.workflow_runs r
                                   WHERE r.workflow_id = w.id AND r.finished_at IS NULL),
                   'privileges', to_jsonb(trellis.workflow_privileges(who, w.id))) AS item
        FROM trellis.workflows w
        LEFT JOIN trellis.principals o ON o.id = w.owner_id
        LEFT JOIN LATERAL (SELECT x.version, x.created_at FROM trellis.workflow_versions x
                           WHERE x.workflow_id = w.id ORDER BY x.version DESC LIMIT 1) v ON true
        WHERE trellis.holds_privilege(who, w.id, 'view')) x);
END;
$fn$;
