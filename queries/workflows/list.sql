-- One row per workflow: its latest version and how many runs it has.
SELECT w.name, w.description, o.name AS owner,
       v.version AS latest_version, v.created_at AS published_at,
       (SELECT count(*) FROM trellis.workflow_runs r WHERE r.workflow_id = w.id) AS runs
FROM trellis.workflows w
LEFT JOIN trellis.principals o ON o.id = w.owner_id
LEFT JOIN LATERAL (
    SELECT version, created_at FROM trellis.workflow_versions
    WHERE workflow_id = w.id ORDER BY version DESC LIMIT 1
) v ON true
ORDER BY w.name
