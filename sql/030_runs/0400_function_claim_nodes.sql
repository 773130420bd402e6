-- Claims up to max_nodes ready nodes whose handler this scheduler serves, in priority
-- then ready_at order. Ready means ready by this statement's start, not the transaction's:
-- in a pipelined pass the results reported just before, in the same transaction, make
-- their dependents ready, and this claim takes them at once (one round trip less per DAG
-- level). The pick is one statement over the partial index
-- node_runs_ready_idx with FOR UPDATE SKIP LOCKED and the LIMIT inside, so concurrent
-- schedulers take disjoint rows and the planner never locks more than it returns.
-- Each claim bumps `attempt` — the fencing token every later result must present — sets
-- the lease and records an attempt row; events are appended for the batch at once.
--
-- Per-workflow limits (workflows.max_concurrent_runs / max_concurrent_nodes) are a
-- shared budget SKIP LOCKED cannot hold: workflows already at a limit are left out of
-- the pick (so their waiting nodes cannot crowd the head of the queue), and picked nodes
-- of limited workflows are admitted under a per-workflow advisory lock against counts
-- read after taking it — concurrent claimers of one limited workflow take turns, and
-- everyone else never waits. A run holds a run slot from its first claim to its end: the
-- claim that starts a run of a workflow with a run limit sets its holds_slot, which
-- workflow_runs_slot_idx counts (runs of other workflows never write it, so their start
-- stays a heap-only update). Every claim holds the limits fence (a shared advisory lock)
-- that set_workflow_limits takes exclusively, so a limit set between a claim's reading of
-- the limits and its commit cannot miss the runs that claim starts.
-- `waited_ms` is how long each node waited between becoming claimable and this claim (the
-- scheduler's ready→start lag metric); `resume` is what an earlier attempt left when it
-- asked for input, with the answer (fail_nodes, close_approval). Its result columns changed once, so the function is
-- dropped and created again (in the migration's transaction; sql/090_grants grants it anew).
DROP FUNCTION IF EXISTS trellis.claim_nodes(bigint, text[], integer, interval);
CREATE FUNCTION trellis.claim_nodes(scheduler bigint, handlers text[], max_nodes integer DEFAULT 32,
                                    lease interval DEFAULT '30 seconds')
RETURNS TABLE (node_run_id bigint, run_id uuid, node_key text, handler text, config jsonb, input jsonb,
               attempt integer, timeout_ms bigint, item_index integer, waited_ms double precision, resume jsonb)
LANGUAGE plpgsql
-- One of the functions trellis_scheduler may call (sql/090_grants): runs with the owner's rights.
-- The planner settings pin the pick to the ordered walk of node_runs_ready_idx that stops
-- at the limit: right after a burst of inserts, before autoanalyze, the planner otherwise
-- chose a bitmap scan plus a sort of the whole ready set (10 ms per claim at 5,000 ready).
-- jit is off because a priced-out path counts 10^10 in plan costs, far above
-- jit_above_cost: every statement was JIT-compiled, for 100+ ms per claim.
-- Generic plans (made once per session) for its statements and those it calls: custom
-- plans cost 0.25 ms of planning per claim (pg_stat_statements, track_planning). A generic
-- plan is kept until the statistics change, and one made on near-empty tables can take
-- anything for small: picked rows are read by a lookup per id (LATERAL … OFFSET 0, which
-- the planner cannot turn into a join), not by a join it might drive from the table.
SECURITY DEFINER SET search_path = pg_catalog, trellis, pg_temp SET enable_seqscan = off SET enable_sort = off SET jit = off
SET plan_cache_mode = force_generic_plan AS $fn$
DECLARE
    scheduler_name text;
    nodes_full bigint[];
    runs_full bigint[];
    picked bigint[];
    refused bigint[] := '{}';
    lim record;
    free_slots bigint;
    notified bigint;
    limited_runs bigint[];
    any_limits boolean;
BEGIN
    IF max_nodes IS NULL OR max_nodes NOT BETWEEN 1 AND 1000 THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('max_nodes must be 1 to 1000, got %s', max_nodes);
    END IF;
    -- The usual lease (1 s to check_lease's default bound of 600 s, no setting) is an
    -- expression here; any other goes through check_lease, which reads the setting and
    -- names the bound.
    IF lease IS NULL OR lease < interval '1 second' OR lease > interval '600 seconds'
       OR current_setting('trellis.max_lease_seconds', true) IS NOT NULL THEN
        PERFORM trellis.check_lease(lease);
    END IF;
    scheduler_name := (trellis.require_scheduler(scheduler)).name;
    PERFORM pg_advisory_xact_lock_shared(1953261941, 0);  -- the limits fence (set_workflow_limits)

    SELECT coalesce(array_agg(w.id) FILTER (WHERE w.max_concurrent_nodes <= (
               SELECT count(*) FROM trellis.node_runs n WHERE n.workflow_id = w.id AND n.status = 'running')), '{}'),
           coalesce(array_agg(w.id) FILTER (WHERE w.max_concurrent_runs <= (
               SELECT count(*) FROM trellis.workflow_runs r
               WHERE r.workflow_id = w.id AND r.holds_slot AND r.finished_at IS NULL)), '{}'),
           coalesce(array_agg(w.id) FILTER (WHERE w.max_concurrent_runs IS NOT NULL), '{}'),
           count(*) > 0
    INTO nodes_full, runs_full, limited_runs, any_limits
    FROM trellis.workflows w
    WHERE w.max_concurrent_nodes IS NOT NULL OR w.max_concurrent_runs IS NOT NULL;

    SELECT array_agg(p.id ORDER BY p.ord) INTO picked
    FROM (
        SELECT n.id, row_number() OVER () AS ord FROM (
            SELECT n.id FROM trellis.node_runs n
            JOIN trellis.workflow_runs r ON r.id = n.run_id
            WHERE n.status = 'ready' AND n.ready_at <= statement_timestamp() AND n.handler = ANY (handlers)
              AND n.workflow_id <> ALL (nodes_full)
              AND NOT (n.workflow_id = ANY (runs_full) AND r.status = 'queued')
            ORDER BY n.priority DESC, n.ready_at, n.id
            LIMIT max_nodes
            FOR UPDATE OF n SKIP LOCKED
            FOR NO KEY UPDATE OF r SKIP LOCKED
        ) n
    ) p;
    IF picked IS NULL THEN
        RETURN;
    END IF;

    IF any_limits THEN
        FOR lim IN
            SELECT w.id, w.max_concurrent_runs, w.max_concurrent_nodes FROM trellis.workflows w
            WHERE (w.max_concurrent_nodes IS NOT NULL OR w.max_concurrent_runs IS NOT NULL)
              AND w.id IN (SELECT n.workflow_id FROM trellis.node_runs n WHERE n.id = ANY (picked))
            ORDER BY w.id
        LOOP
            PERFORM pg_advisory_xact_lock(1953261940, (lim.id % 2147483647)::int);
            IF lim.max_concurrent_runs IS NOT NULL THEN
                -- Admit queued runs, first picked first, while run slots are free.
                free_slots := lim.max_concurrent_runs - (SELECT count(*) FROM trellis.workflow_runs r
                                                         WHERE r.workflow_id = lim.id AND r.holds_slot AND r.finished_at IS NULL);
                refused := refused || ARRAY(
                    SELECT n.id FROM unnest(picked) WITH ORDINALITY AS p(id, ord)
                    JOIN trellis.node_runs n ON n.id = p.id
                    JOIN trellis.workflow_runs r ON r.id = n.run_id
                    JOIN (SELECT n2.run_id, dense_rank() OVER (ORDER BY min(p2.ord)) AS turn
                          FROM unnest(picked) WITH ORDINALITY AS p2(id, ord) JOIN trellis.node_runs n2 ON n2.id = p2.id
                          WHERE n2.workflow_id = lim.id GROUP BY n2.run_id) t ON t.run_id = n.run_id
                    WHERE n.workflow_id = lim.id AND r.status = 'queued' AND t.turn > greatest(free_slots, 0));
            END IF;
            IF lim.max_concurrent_nodes IS NOT NULL THEN
                free_slots := lim.max_concurrent_nodes - (SELECT count(*) FROM trellis.node_runs n
                                                          WHERE n.workflow_id = lim.id AND n.status = 'running');
                refused := refused || ARRAY(
                    SELECT q.id FROM (
                        SELECT p.id, row_number() OVER (ORDER BY p.ord) AS turn
                        FROM unnest(picked) WITH ORDINALITY AS p(id, ord) JOIN trellis.node_runs n ON n.id = p.id
                        WHERE n.workflow_id = lim.id AND p.id <> ALL (refused)) q
                    WHERE q.turn > greatest(free_slots, 0));
            END IF;
        END LOOP;
    END IF;
    IF cardinality(refused) > 0 THEN
        picked := ARRAY(SELECT p.id FROM unnest(picked) WITH ORDINALITY AS p(id, ord) WHERE p.id <> ALL (refused) ORDER BY p.ord);
        IF cardinality(picked) = 0 THEN
            RETURN;
        END IF;
    END IF;

    -- The claim, its attempt rows, the claimed runs' rows and their events, in one
    -- statement: what append_events does for other transitions, here without its call,
    -- its array round trip and its locking statement — the pick already holds every
    -- claimed run's row (SKIP LOCKED: no claimer waits, so none deadlocks). Each claimed
    -- node reads its run's row by key (a lookup the planner cannot turn into a join; a
    -- `status = 'queued'` lookup was once planned over the index of active runs and read
    -- the whole queued backlog). A run still queued starts here: run.started comes first in
    -- its log, then node.started per node in id order, with seqs after the row's last_seq,
    -- which its update moves on by their count; one doorbell per run names its newest seq.
    WITH updated AS (
        UPDATE trellis.node_runs n
        SET status = 'running', attempt = n.attempt + 1, scheduler_id = scheduler, claimed_by = scheduler_name,
            lease_expires_at = now() + lease, started_at = coalesce(n.started_at, now())
        WHERE n.id = ANY (picked)
        RETURNING n.id, n.run_id, n.attempt, n.node_key
    ), attempts AS (
        INSERT INTO trellis.node_attempts (node_run_id, run_id, attempt, scheduler_id, scheduler_name)
        SELECT u.id, u.run_id, u.attempt, scheduler, scheduler_name FROM updated u
    ), claimed AS (
        SELECT u.id, u.run_id, u.attempt, u.node_key, r.row, r.last_seq, r.status = 'queued' AS starting, r.workflow_id, r.version_id,
               row_number() OVER (PARTITION BY u.run_id ORDER BY u.id) AS place,
               r.last_seq + (r.status = 'queued')::int + count(*) OVER (PARTITION BY u.run_id) AS newest
        FROM updated u
        CROSS JOIN LATERAL (SELECT r.ctid AS row, r.last_seq, r.status, r.workflow_id, r.version_id
                            FROM trellis.workflow_runs r WHERE r.id = u.run_id OFFSET 0) r
    ), bumped AS (
        UPDATE trellis.workflow_runs w
        SET last_seq = c.newest,
            status = CASE WHEN c.starting THEN 'running' ELSE w.status END,
            holds_slot = w.holds_slot OR (c.starting AND w.workflow_id = ANY (limited_runs)),
            started_at = CASE WHEN c.starting THEN now() ELSE w.started_at END
        FROM claimed c
        WHERE w.ctid = c.row AND c.place = 1
    ), events AS (
        INSERT INTO trellis.run_events (run_id, seq, type, data)
        SELECT c.run_id, c.last_seq + 1, 'run.started',
               jsonb_build_object('workflow', w.name, 'version', v.version, 'started_at', now())
        FROM claimed c
        CROSS JOIN LATERAL (SELECT w.name FROM trellis.workflows w WHERE w.id = c.workflow_id OFFSET 0) w
        CROSS JOIN LATERAL (SELECT v.version FROM trellis.workflow_versions v WHERE v.id = c.version_id OFFSET 0) v
        WHERE c.starting AND c.place = 1
        UNION ALL
        SELECT c.run_id, c.last_seq + c.starting::int + c.place, 'node.started',
               jsonb_build_object('node_key', c.node_key, 'node_run_id', c.id, 'attempt', c.attempt, 'scheduler', scheduler_name)
        FROM claimed c
    )
    SELECT count(pg_notify('trellis_events', c.run_id::text || ':' || c.newest)) INTO notified
    FROM claimed c WHERE c.place = 1;

    -- waited_ms by the statement's clock: in a pipelined pass, now() is the start of the
    -- transaction, before the results reported ahead of this claim. attempt and item_index
    -- are domains (migration 0027), cast to the declared types RETURN QUERY insists on.
    RETURN QUERY
    SELECT n.id, n.run_id, n.node_key, n.handler, wn.config, n.input, n.attempt::integer, wn.timeout_ms, n.item_index::integer,
           greatest(extract(epoch FROM statement_timestamp() - n.ready_at) * 1000, 0)::double precision, n.resume
    FROM unnest(picked) WITH ORDINALITY AS p(id, ord)
    CROSS JOIN LATERAL (SELECT n.* FROM trellis.node_runs n WHERE n.id = p.id OFFSET 0) n
    CROSS JOIN LATERAL (SELECT wn.config, wn.timeout_ms FROM trellis.workflow_nodes wn WHERE wn.id = n.node_id OFFSET 0) wn
    ORDER BY p.ord;
END;
$fn$;
