-- Sets the retention policy of a workflow (`admin` on it), or the default when `workflow`
-- is NULL (administrators): finished runs older than `days`, and those beyond the newest
-- `runs` of their workflow, are removed by the schedulers — a run goes when it is past
-- either limit. Both NULL clears the policy (the workflow falls back to the default; no
-- default keeps everything). Returns the policy now in force for it.
CREATE OR REPLACE FUNCTION trellis.set_retention(workflow text, days integer, runs integer, principal text DEFAULT 'admin')
RETURNS TABLE (keep_days integer, keep_runs integer, source text)
LANGUAGE plpgsql AS $fn$
DECLARE
    actor_id bigint := trellis.principal_id(principal);
    wf_id bigint;
BEGIN
    IF workflow IS NULL THEN
        PERFORM trellis.require_administrator(actor_id, 'set the default retention');
    ELSE
        wf_id := trellis.workflow_id(workflow);
        PERFORM trellis.require_privilege(actor_id, wf_id, 'admin');
    END IF;
    IF set_retention.days IS NOT NULL AND set_retention.days NOT BETWEEN 1 AND 36500 THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('keep days must be 1 to 36500, got %s', set_retention.days);
    END IF;
    IF set_retention.runs IS NOT NULL AND set_retention.runs NOT BETWEEN 1 AND 100000000 THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('keep runs must be 1 to 100000000, got %s', set_retention.runs);
    END IF;
    DELETE FROM trellis.retention_policies p WHERE p.workflow_id IS NOT DISTINCT FROM wf_id;
    IF set_retention.days IS NOT NULL OR set_retention.runs IS NOT NULL THEN
        INSERT INTO trellis.retention_policies (workflow_id, keep_days, keep_runs, updated_by)
        VALUES (wf_id, set_retention.days, set_retention.runs, actor_id);
    END IF;
    IF wf_id IS NULL THEN
        RETURN QUERY SELECT p.keep_days, p.keep_runs, 'default'::text FROM trellis.retention_policies p WHERE p.workflow_id IS NULL;
    ELSE
        RETURN QUERY SELECT * FROM trellis.retention_policy(wf_id);
    END IF;
END;
$fn$;
