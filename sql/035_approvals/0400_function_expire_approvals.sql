-- Applies each pending approval's expiry outcome once its expires_at has passed
-- (reject → the gate's node fails and its on_error applies; approve → the run goes on).
-- Every scheduler calls it; SKIP LOCKED on runs and approvals lets them share the work,
-- and locks go run → approval like every transition. Returns how many it applied.
CREATE OR REPLACE FUNCTION trellis.expire_approvals(max_approvals integer DEFAULT 100) RETURNS integer
LANGUAGE plpgsql
-- One of the functions trellis_scheduler may call (sql/090_grants): runs with the owner's rights.
SECURITY DEFINER SET search_path = pg_catalog, trellis, pg_temp AS $fn$
DECLARE
    runs uuid[];
    locked_runs uuid[];
    due record;
    expired int := 0;
BEGIN
    SELECT array_agg(DISTINCT c.run_id) INTO runs FROM (
        SELECT ap.run_id FROM trellis.approvals ap
        WHERE ap.status = 'pending' AND ap.expires_at < now()
        ORDER BY ap.expires_at LIMIT max_approvals
    ) c;
    IF runs IS NULL THEN
        RETURN 0;
    END IF;
    locked_runs := ARRAY(SELECT r.id FROM trellis.workflow_runs r WHERE r.id = ANY (runs) ORDER BY r.id FOR UPDATE SKIP LOCKED);
    FOR due IN
        SELECT ap.id, ap.run_id, ap.expiry_outcome FROM trellis.approvals ap
        WHERE ap.run_id = ANY (locked_runs) AND ap.status = 'pending' AND ap.expires_at < now()
        ORDER BY ap.run_id, ap.id
        FOR UPDATE SKIP LOCKED
    LOOP
        PERFORM trellis.close_approval(due.id, CASE due.expiry_outcome WHEN 'approve' THEN 'approved' ELSE 'expired' END,
                                       NULL, 'expired without a decision');
        expired := expired + 1;
    END LOOP;
    RETURN expired;
END;
$fn$;
