-- What a running handler says while it works, in a batch: [{"id", "attempt", "kind":
-- "progress", "percent", "message"} | {"id", "attempt", "kind": "log", "log_kind":
-- agent_message|tool_call|thinking|log, "body"}]. Fenced like results: only the
-- scheduler holding that attempt may report, so nothing lands after the node finished.
-- Appends node.progress / node.log events; long texts are cut at 8 KiB (flagged).
CREATE OR REPLACE FUNCTION trellis.report_progress(scheduler bigint, updates jsonb)
RETURNS TABLE (node_run_id bigint, accepted boolean, reason text)
LANGUAGE plpgsql
-- One of the functions trellis_scheduler may call (sql/090_grants): runs with the owner's rights.
-- Generic plans, made once per session: with a planner method off, a generic plan carries
-- the method's cost penalty wherever a custom plan can avoid it, so PostgreSQL judged it
-- dearer after the five custom plans and planned afresh on every call (one log line 2.8 ms per call, 1.1 with generic plans, pgbench).
SECURITY DEFINER SET search_path = pg_catalog, trellis, pg_temp SET enable_seqscan = off SET jit = off
SET plan_cache_mode = force_generic_plan AS $fn$
DECLARE
    ids bigint[];
    reasons text[];
BEGIN
    IF jsonb_typeof(updates) IS DISTINCT FROM 'array' THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'updates must be a JSON array of {id, attempt, kind, …}';
    END IF;
    IF EXISTS (SELECT 1 FROM jsonb_array_elements(updates) e WHERE e ->> 'kind' IS DISTINCT FROM 'progress' AND e ->> 'kind' IS DISTINCT FROM 'log') THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'each update needs kind "progress" or "log"';
    END IF;
    IF EXISTS (SELECT 1 FROM jsonb_array_elements(updates) e
               WHERE e ->> 'kind' = 'log' AND coalesce(e ->> 'log_kind', 'log') NOT IN ('agent_message', 'tool_call', 'thinking', 'log')) THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'log_kind must be agent_message, tool_call, thinking or log';
    END IF;
    IF EXISTS (SELECT 1 FROM jsonb_array_elements(updates) e
               WHERE e ? 'percent' AND jsonb_typeof(e -> 'percent') <> 'null'
                 AND (jsonb_typeof(e -> 'percent') <> 'number' OR (e ->> 'percent')::numeric NOT BETWEEN 0 AND 100)) THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'percent must be a number from 0 to 100';
    END IF;
    PERFORM trellis.require_scheduler(scheduler);
    PERFORM trellis.lock_runs_of_items(updates);  -- runs before nodes
    -- The node runs by key (`= ANY`, a lookup per item: a plan made on a near-empty table
    -- must not read all of node_runs once it is large).
    PERFORM 1 FROM trellis.node_runs n
    WHERE n.id = ANY (ARRAY(SELECT (t.e ->> 'id')::bigint FROM jsonb_array_elements(updates) AS t(e)))
    ORDER BY n.id FOR SHARE;
    WITH items AS (
        SELECT t.ord, t.e, (t.e ->> 'id')::bigint AS id, (t.e ->> 'attempt')::int AS attempt
        FROM jsonb_array_elements(updates) WITH ORDINALITY AS t(e, ord)
    ), judged AS (
        SELECT i.*, l.run_id, l.node_key, l.item_index,
               trellis.stale_result_reason(l.found_id, l.status, l.node_attempt, l.scheduler_id, i.attempt, scheduler) AS reason
        FROM items i LEFT JOIN LATERAL (
            SELECT n.id AS found_id, n.status, n.attempt AS node_attempt, n.scheduler_id, n.run_id, n.node_key, n.item_index
            FROM trellis.node_runs n WHERE n.id = i.id OFFSET 0) l ON true
    ), appended AS (
        SELECT trellis.append_events(
            array_agg(j.run_id ORDER BY j.ord),
            array_agg(CASE j.e ->> 'kind' WHEN 'progress' THEN 'node.progress' ELSE 'node.log' END ORDER BY j.ord),
            array_agg(CASE j.e ->> 'kind'
                WHEN 'progress' THEN jsonb_strip_nulls(jsonb_build_object(
                    'node_key', j.node_key, 'node_run_id', j.id, 'item_index', j.item_index,
                    'attempt', j.attempt, 'percent', j.e -> 'percent', 'message', left(j.e ->> 'message', 8192),
                    'truncated', CASE WHEN length(j.e ->> 'message') > 8192 THEN true END))
                ELSE jsonb_strip_nulls(jsonb_build_object(
                    'node_key', j.node_key, 'node_run_id', j.id, 'item_index', j.item_index,
                    'attempt', j.attempt, 'kind', coalesce(j.e ->> 'log_kind', 'log'), 'body', left(j.e ->> 'body', 8192),
                    'truncated', CASE WHEN length(j.e ->> 'body') > 8192 THEN true END))
            END ORDER BY j.ord)) AS done
        FROM judged j WHERE j.reason IS NULL
    )
    SELECT array_agg(j.id ORDER BY j.ord), array_agg(j.reason ORDER BY j.ord) INTO ids, reasons
    FROM judged j, appended;
    RETURN QUERY SELECT r.id, r.reason IS NULL, r.reason FROM unnest(ids, reasons) WITH ORDINALITY AS r(id, reason, ord) ORDER BY r.ord;
END;
$fn$;
