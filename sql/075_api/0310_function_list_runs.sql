-- GET /v1/runs: runs of every workflow `principal` may view, newest first, filtered by
-- workflow, status, who started them and a creation window [since, until), one page at a
-- time. The cursor is opaque to clients: it carries the last row's (created_at, id), so
-- pages stay stable while new runs arrive (keyset paging on workflow_runs_created_idx).
-- Returns {"runs": […], "next_cursor": "…" | null}.
CREATE OR REPLACE FUNCTION trellis.list_runs(principal text, workflow text DEFAULT NULL, run_status text DEFAULT NULL,
                                             started_by text DEFAULT NULL, since text DEFAULT NULL, until text DEFAULT NULL,
                                             max_runs integer DEFAULT 50, after_cursor text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
    who bigint := trellis.principal_id(principal);
    visible bigint[];
    starter bigint;
    from_time timestamptz := trellis.api_time(since, 'since');
    to_time timestamptz := trellis.api_time(until, 'until');
    cursor_time timestamptz;
    cursor_id uuid;
    items jsonb[];
    times timestamptz[];
    ids uuid[];
BEGIN
    IF max_runs IS NULL OR max_runs NOT BETWEEN 1 AND 1000 THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('limit must be 1 to 1000, got %s', max_runs);
    END IF;
    IF run_status IS NOT NULL AND run_status NOT IN ('queued', 'running', 'paused', 'waiting', 'succeeded', 'failed', 'cancelled') THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('unknown status "%s" (expected queued, running, paused, waiting, succeeded, failed or cancelled)', run_status);
    END IF;
    IF after_cursor IS NOT NULL THEN
        IF after_cursor !~ '^[0-9]{1,18}_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
            RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('cursor "%s" is not one this API returned', left(after_cursor, 64));
        END IF;
        cursor_time := timestamptz 'epoch' + (split_part(after_cursor, '_', 1) || ' microseconds')::interval;
        cursor_id := split_part(after_cursor, '_', 2)::uuid;
    END IF;
    visible := trellis.viewable_workflows(who, workflow);
    IF started_by IS NOT NULL THEN
        starter := trellis.any_principal_id(started_by);
    END IF;

    SELECT array_agg(x.item ORDER BY x.created_at DESC, x.id DESC),
           array_agg(x.created_at ORDER BY x.created_at DESC, x.id DESC),
           array_agg(x.id ORDER BY x.created_at DESC, x.id DESC)
    INTO items, times, ids
    FROM (
        SELECT r.id, r.created_at, jsonb_strip_nulls(jsonb_build_object(
                   'run_id', r.id, 'workflow', w.name, 'version', v.version, 'status', r.status, 'priority', r.priority,
                   'started_by', p.name, 'created_at', r.created_at, 'started_at', r.started_at,
                   'finished_at', r.finished_at, 'nodes_remaining', r.nodes_remaining, 'total_cost', r.total_cost,
                   'failed_node', r.failed_node)) AS item
        FROM trellis.workflow_runs r
        JOIN trellis.workflows w ON w.id = r.workflow_id
        JOIN trellis.workflow_versions v ON v.id = r.version_id
        LEFT JOIN trellis.principals p ON p.id = r.started_by
        WHERE r.workflow_id = ANY (visible)
          AND (run_status IS NULL OR r.status = run_status)
          AND (starter IS NULL OR r.started_by = starter)
          AND (from_time IS NULL OR r.created_at >= from_time)
          AND (to_time IS NULL OR r.created_at < to_time)
          AND (cursor_time IS NULL OR (r.created_at, r.id) < (cursor_time, cursor_id))
        ORDER BY r.created_at DESC, r.id DESC
        LIMIT max_runs + 1) x;
    IF coalesce(cardinality(items), 0) <= max_runs THEN
        RETURN jsonb_build_object('runs', coalesce(to_jsonb(items), '[]'::jsonb), 'next_cursor', NULL);
    END IF;
    -- One row more than a page came back: there is a next page, starting after the last row shown.
    RETURN jsonb_build_object('runs', to_jsonb(items[1:max_runs]), 'next_cursor',
        format('%s_%s', (extract(epoch FROM times[max_runs]) * 1000000)::bigint, ids[max_runs]));
END;
$fn$;
