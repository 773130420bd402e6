-- Starts one run per input, all of one version, in one call: the set-based form of
-- start_run for bulk enqueues. The same privilege, option and input checks apply, to every
-- input before anything is written, so a bad input (named by its position, `inputs[i]`)
-- refuses the whole call. Options are shared by every run; an idempotency key names one
-- run and is refused here. At most trellis.max_start_batch (100,000) inputs per call.
-- Returns one row per input, in input order.
CREATE OR REPLACE FUNCTION trellis.start_runs(
    workflow text, inputs jsonb[], principal text DEFAULT 'admin', options jsonb DEFAULT '{}'
) RETURNS TABLE (run_id uuid, status text, created boolean)
LANGUAGE plpgsql AS $fn$
DECLARE
    actor_id bigint := trellis.principal_id(principal);
    wf_id bigint := trellis.workflow_id(workflow);
    opts jsonb := coalesce(options, '{}');
    new_runs uuid[];
    pinned_id bigint;
    pinned_number integer;
BEGIN
    PERFORM trellis.require_privilege(actor_id, wf_id, 'run');
    IF inputs IS NULL OR cardinality(inputs) = 0 THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'inputs must be a non-empty array of JSON objects';
    END IF;
    IF cardinality(inputs) > trellis.setting('max_start_batch', 100000) THEN
        RAISE EXCEPTION USING ERRCODE = '54000',
            MESSAGE = format('%s inputs in one call, over the cap of %s (trellis.max_start_batch)',
                             cardinality(inputs), trellis.setting('max_start_batch', 100000));
    END IF;
    PERFORM trellis.check_run_inputs(inputs);
    PERFORM trellis.check_run_options(opts);
    IF opts ? 'idempotency_key' THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = 'idempotency_key names one run: use start_run for it, not start_runs';
    END IF;
    SELECT p.version_id, p.version_number INTO pinned_id, pinned_number FROM trellis.pinned_version(workflow, wf_id, opts) p;
    new_runs := trellis.create_runs(wf_id, workflow, pinned_id, pinned_number, actor_id, principal, inputs, opts);
    RETURN QUERY  -- status is a domain (migration 0027), returned as text
    SELECT r.id, r.status::text, true
    FROM unnest(new_runs) WITH ORDINALITY AS u(id, ord) JOIN trellis.workflow_runs r ON r.id = u.id
    ORDER BY u.ord;
END;
$fn$;
