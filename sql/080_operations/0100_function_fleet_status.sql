-- The fleet on one screen (`trellis status`, GET /v1/status), for administrators: live
-- schedulers with heartbeat age and nodes in flight (stale: no heartbeat for `stale_after`),
-- the ready queue by workflow and handler with its oldest wait, retries waiting for their
-- backoff, active runs by status, pending approvals, the last hour's reclaims, failures and
-- successes, and the problems a person should look at first. Every count walks a partial
-- index (ready, running, active runs, pending approvals, troubled attempts), so it stays
-- cheap with millions of finished rows.
CREATE OR REPLACE FUNCTION trellis.fleet_status(principal text DEFAULT 'admin', stale_after interval DEFAULT '60 seconds')
RETURNS jsonb
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
    schedulers jsonb;
    queue jsonb;
    problems jsonb;
BEGIN
    PERFORM trellis.require_administrator(trellis.principal_id(principal), 'read the fleet status');
    IF stale_after IS NULL OR stale_after <= interval '0' THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'stale_after must be a positive interval';
    END IF;

    SELECT coalesce(jsonb_agg(jsonb_build_object(
               'id', s.id, 'name', s.name, 'hostname', s.hostname, 'pid', s.pid, 'version', s.version,
               'handlers', to_jsonb(s.handlers), 'concurrency', s.concurrency, 'started_at', s.started_at,
               'heartbeat_age_s', round(extract(epoch FROM now() - s.heartbeat_at)::numeric, 1),
               'in_flight', coalesce(f.n, 0), 'stale', now() - s.heartbeat_at > stale_after)
             ORDER BY s.name, s.id), '[]')
    INTO schedulers
    FROM trellis.schedulers s
    LEFT JOIN (SELECT n.scheduler_id, count(*) AS n FROM trellis.node_runs n WHERE n.status = 'running' GROUP BY n.scheduler_id) f
        ON f.scheduler_id = s.id
    WHERE s.stopped_at IS NULL;

    SELECT coalesce(jsonb_agg(jsonb_build_object('workflow', q.workflow, 'handler', q.handler, 'ready', q.ready,
                                                 'oldest_wait_s', q.oldest) ORDER BY q.oldest DESC, q.workflow, q.handler), '[]')
    INTO queue
    FROM (SELECT w.name AS workflow, n.handler, count(*) AS ready,
                 round(extract(epoch FROM now() - min(n.ready_at))::numeric, 1) AS oldest
          FROM trellis.node_runs n JOIN trellis.workflows w ON w.id = n.workflow_id
          WHERE n.status = 'ready' AND n.ready_at <= now()
          GROUP BY w.name, n.handler) q;

    -- What needs a person: handlers nobody live serves, stale schedulers still holding nodes.
    SELECT coalesce(jsonb_agg(p.message ORDER BY p.message), '[]') INTO problems
    FROM (
        SELECT format('%s ready node(s) of handler "%s" (workflow %s), and no live scheduler serves it',
                      q ->> 'ready', q ->> 'handler', q ->> 'workflow') AS message
        FROM jsonb_array_elements(queue) q
        WHERE NOT EXISTS (SELECT 1 FROM jsonb_array_elements(schedulers) s
                          WHERE NOT (s ->> 'stale')::boolean AND (s -> 'handlers') ? (q ->> 'handler'))
        UNION ALL
        SELECT format('scheduler %s (%s, pid %s): no heartbeat for %s s; %s',
                      s ->> 'name', s ->> 'hostname', coalesce(s ->> 'pid', '?'), s ->> 'heartbeat_age_s',
                      CASE WHEN (s ->> 'in_flight')::int = 0 THEN 'it holds no nodes'
                           ELSE format('its %s node(s) are re-queued when their leases expire', s ->> 'in_flight') END)
        FROM jsonb_array_elements(schedulers) s
        WHERE (s ->> 'stale')::boolean
    ) p;

    RETURN jsonb_build_object(
        'at', now(),
        'stale_after_s', extract(epoch FROM stale_after),
        'schedulers', schedulers,
        'queue', queue,
        'ready', (SELECT count(*) FROM trellis.node_runs n WHERE n.status = 'ready' AND n.ready_at <= now()),
        'waiting_to_retry', (SELECT count(*) FROM trellis.node_runs n WHERE n.status = 'ready' AND n.ready_at > now()),
        'running', (SELECT count(*) FROM trellis.node_runs n WHERE n.status = 'running'),
        'runs', (SELECT jsonb_object_agg(st.status, coalesce(c.n, 0))
                 FROM unnest(ARRAY['queued', 'running', 'paused', 'waiting']) AS st(status)
                 LEFT JOIN (SELECT r.status, count(*) AS n FROM trellis.workflow_runs r
                            -- the predicate of workflow_runs_open_idx, to read the open runs only
                            WHERE r.finished_at IS NULL AND r.workflow_id IS NOT NULL
                            GROUP BY r.status) c ON c.status = st.status),
        'approvals', (SELECT jsonb_build_object('pending', count(*),
                                                'oldest_age_s', round(extract(epoch FROM now() - min(a.created_at))::numeric, 1))
                      FROM trellis.approvals a WHERE a.status = 'pending'),
        'last_hour', (SELECT jsonb_build_object(
                          'lost_leases', count(*) FILTER (WHERE a.outcome = 'lost'),
                          'failed_attempts', count(*) FILTER (WHERE a.outcome IN ('failed', 'timed_out')))
                      FROM trellis.node_attempts a
                      WHERE a.trouble_at > now() - interval '1 hour'),
        'problems', problems);
END;
$fn$;
