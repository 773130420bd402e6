-- GET /v1/stats: trellis.workflow_stats over [now - since, until) restricted to the
-- workflows `principal` may view; `since` is a duration such as 24h or 7d.
CREATE OR REPLACE FUNCTION trellis.visible_workflow_stats(principal text, since text DEFAULT '7d', until text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
    who bigint := trellis.principal_id(principal);
    from_time timestamptz := trellis.duration_ago(coalesce(since, '7d'), 'since');
    to_time timestamptz := coalesce(trellis.api_time(until, 'until'), now());
BEGIN
    RETURN jsonb_build_object('since', from_time, 'until', to_time, 'workflows', (
        SELECT coalesce(jsonb_agg(to_jsonb(s) ORDER BY s.workflow, s.version), '[]'::jsonb)
        FROM trellis.workflow_stats(from_time, to_time) s
        JOIN trellis.workflows w ON w.name = s.workflow
        WHERE trellis.holds_privilege(who, w.id, 'view')));
END;
$fn$;
