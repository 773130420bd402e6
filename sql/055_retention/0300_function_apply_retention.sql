-- Applies the retention policies: removes at most `max_runs` finished runs that are past
-- their workflow's policy (trellis.retention_policy) — older than keep_days, or beyond the
-- newest keep_runs finished runs of the workflow — with their node runs, attempts,
-- events and approvals, as `trellis prune` does, and then artifacts no run references
-- any more (prune_artifacts). Schedulers call it (one instance at a
-- time: whoever does not get the advisory lock returns 0 at once); rows in use are
-- skipped. Counts what it removed on the scheduler's row (scheduler_stats). Returns the
-- number of runs removed; a full batch means there may be more.
CREATE OR REPLACE FUNCTION trellis.apply_retention(scheduler bigint, max_runs integer DEFAULT 500)
RETURNS integer
LANGUAGE plpgsql
-- One of the functions trellis_scheduler may call (sql/090_grants): runs with the owner's rights.
-- Generic plans, made once per session: with a planner method off, a generic plan carries
-- the method's cost penalty wherever a custom plan can avoid it, so PostgreSQL judged it
-- dearer after the five custom plans and planned afresh on every call.
SECURITY DEFINER SET search_path = pg_catalog, trellis, pg_temp SET enable_seqscan = off SET jit = off
SET plan_cache_mode = force_generic_plan AS $fn$
DECLARE
    w record;
    victims uuid[] := '{}';
    batch integer := greatest(coalesce(max_runs, 500), 1);
    room integer := batch;
BEGIN
    PERFORM trellis.require_scheduler(scheduler);
    IF NOT pg_try_advisory_xact_lock(1953261940, 1) THEN
        RETURN 0;
    END IF;
    FOR w IN
        SELECT wf.id, p.keep_days, p.keep_runs
        FROM trellis.workflows wf CROSS JOIN LATERAL trellis.retention_policy(wf.id) p
        ORDER BY wf.id
    LOOP
        EXIT WHEN room <= 0;
        IF w.keep_runs IS NOT NULL THEN
            victims := victims || ARRAY(
                SELECT r.id FROM trellis.workflow_runs r
                WHERE r.workflow_id = w.id AND r.finished_at IS NOT NULL
                ORDER BY r.created_at DESC, r.id DESC
                OFFSET w.keep_runs LIMIT room);
            room := batch - cardinality(victims);
        END IF;
        IF w.keep_days IS NOT NULL AND room > 0 THEN
            victims := victims || ARRAY(
                SELECT r.id FROM trellis.workflow_runs r
                WHERE r.workflow_id = w.id AND r.created_at < now() - make_interval(days => w.keep_days)
                  AND r.finished_at < now() - make_interval(days => w.keep_days)
                  AND r.id <> ALL (victims)
                ORDER BY r.created_at
                LIMIT room);
            room := batch - cardinality(victims);
        END IF;
    END LOOP;
    -- Lock what is free to delete; a run another transaction holds waits for the next pass.
    victims := ARRAY(SELECT r.id FROM trellis.workflow_runs r WHERE r.id = ANY (victims) ORDER BY r.id FOR UPDATE SKIP LOCKED);
    DELETE FROM trellis.workflow_runs r WHERE r.id = ANY (victims);
    -- What only those runs referenced goes with them (after a day's grace for new uploads).
    PERFORM trellis.prune_artifacts(100);
    UPDATE trellis.schedulers s SET pruned_runs = s.pruned_runs + cardinality(victims), pruned_at = now()
    WHERE s.id = scheduler AND cardinality(victims) > 0;
    RETURN cardinality(victims);
END;
$fn$;
