-- The chaos run's verdict, read from the database afterwards: every figure is computed
-- over the runs of chaos-* workflows whose idempotency key starts with $1 (one invocation's).
WITH runs AS (
    SELECT r.id, r.status, r.finished_at, r.error, r.last_seq, w.name AS workflow
    FROM trellis.workflow_runs r JOIN trellis.workflows w ON w.id = r.workflow_id
    WHERE w.name LIKE 'chaos-%' AND starts_with(r.idempotency_key, $1::text)
), work AS (
    -- Node runs a handler executes: work nodes and parallel items (not parallel parents).
    SELECT n.* FROM trellis.node_runs n JOIN runs ON runs.id = n.run_id
    WHERE n.handler IS NOT NULL AND (n.kind <> 'parallel' OR n.parent_id IS NOT NULL)
)
SELECT
    (SELECT count(*) FROM runs) AS runs,
    (SELECT count(*) FROM runs WHERE finished_at IS NULL) AS unfinished,
    (SELECT count(*) FROM runs WHERE status = 'succeeded') AS succeeded,
    (SELECT count(*) FROM runs WHERE workflow = 'chaos-poison' AND status = 'failed') AS failed_by_design,
    (SELECT count(*) FROM runs WHERE workflow = 'chaos-poison' AND finished_at IS NOT NULL AND status <> 'failed') AS poison_not_failed,
    (SELECT count(*) FROM runs WHERE workflow <> 'chaos-poison' AND finished_at IS NOT NULL AND status <> 'succeeded') AS failed_unexpectedly,
    -- What those runs' nodes failed with (up to five), so a failing run says why.
    (SELECT string_agg(x.line, '; ') FROM (
        SELECT runs.workflow || ' ' || runs.id || ': ' || runs.status || coalesce(', ' || (
                   SELECT string_agg(n.node_key || ' ' || n.status || ' ' || coalesce(n.error ->> 'code', '') || ' '
                                     || left(coalesce(n.error ->> 'message', ''), 200), ', ' ORDER BY n.id)
                   FROM trellis.node_runs n WHERE n.run_id = runs.id AND n.status NOT IN ('succeeded', 'skipped')), '') AS line
        FROM runs WHERE runs.workflow <> 'chaos-poison' AND runs.finished_at IS NOT NULL AND runs.status <> 'succeeded'
        ORDER BY runs.id LIMIT 5) x) AS unexpected_failures,
    -- A large output is stored whole: the node's output references an artifact of the
    -- run's own (artifact_refs) holding the whole 1.5 MiB blob.
    (SELECT count(*) FROM runs JOIN trellis.node_runs n ON n.run_id = runs.id
     WHERE runs.workflow = 'chaos-large' AND runs.status = 'succeeded' AND NOT EXISTS (
        SELECT 1 FROM trellis.artifacts a JOIN trellis.artifact_refs f ON f.artifact_id = a.id AND f.run_id = runs.id AND f.node_run_id = n.id
        WHERE a.sha256 = n.output ->> '$artifact' AND a.size > 1572864 AND (n.output -> 'truncated') = 'true'))
        AS large_not_stored,
    (SELECT count(*) FROM runs WHERE EXISTS (
        SELECT 1 FROM trellis.node_runs n WHERE n.run_id = runs.id AND n.status = 'failed' AND n.error ->> 'code' = 'lease_expired'))
        AS failed_by_worker_loss,
    -- Exactly-once application: a succeeded work node has one succeeded attempt and one
    -- node.finished event; anything else is a result applied twice (or never).
    (SELECT count(*) FROM work w WHERE w.status = 'succeeded' AND (
        (SELECT count(*) FROM trellis.node_attempts a WHERE a.node_run_id = w.id AND a.outcome = 'succeeded') <> 1
        OR (SELECT count(*) FROM trellis.run_events e
            WHERE e.run_id = w.run_id AND e.type = 'node.finished' AND (e.data ->> 'node_run_id')::bigint = w.id) <> 1))
        AS results_not_applied_once,
    (SELECT count(*) FROM runs WHERE runs.last_seq <> (SELECT count(*) FROM trellis.run_events e WHERE e.run_id = runs.id)
                                  OR runs.last_seq <> (SELECT coalesce(max(e.seq), 0) FROM trellis.run_events e WHERE e.run_id = runs.id))
        AS runs_with_gaps,
    (SELECT count(*) FROM trellis.node_attempts a JOIN runs ON runs.id = a.run_id WHERE a.outcome = 'lost') AS lost_attempts,
    (SELECT count(*) FROM work WHERE lost_leases > 0) AS requeued_nodes,
    (SELECT coalesce(sum(runs.last_seq), 0) FROM runs)::bigint AS events
