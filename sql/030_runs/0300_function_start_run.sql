-- Starts a run of a workflow's latest (or a given) version as `principal`, who needs the
-- `run` privilege. Creates one node run per node, makes the roots ready (or decides them,
-- for control nodes) and appends run.queued. Options (all optional):
--   {"priority": int, "idempotency_key": text, "version": int, "context": object}
-- The same idempotency key for the same workflow returns the existing run (created = false)
-- when the input is the same; a different input under a used key is refused (TR409), as a
-- retried request must not silently drop a changed payload.
CREATE OR REPLACE FUNCTION trellis.start_run(
    workflow text, input jsonb DEFAULT '{}', principal text DEFAULT 'admin', options jsonb DEFAULT '{}'
) RETURNS TABLE (run_id uuid, status text, created boolean)
LANGUAGE plpgsql AS $fn$
DECLARE
    actor_id bigint := trellis.principal_id(principal);
    wf_id bigint := trellis.workflow_id(workflow);
    opts jsonb := coalesce(options, '{}');
    pinned trellis.workflow_versions;
    new_runs uuid[];
    existing trellis.workflow_runs;
BEGIN
    PERFORM trellis.require_privilege(actor_id, wf_id, 'run');
    input := coalesce(input, '{}');
    PERFORM trellis.check_run_inputs(ARRAY[input]);
    PERFORM trellis.check_run_options(opts);

    IF opts ? 'idempotency_key' THEN
        SELECT * INTO existing FROM trellis.workflow_runs r WHERE r.workflow_id = wf_id AND r.idempotency_key = opts ->> 'idempotency_key';
        IF existing.id IS NOT NULL THEN
            PERFORM trellis.require_same_input(existing, input);
            RETURN QUERY SELECT existing.id, existing.status, false;
            RETURN;
        END IF;
    END IF;

    pinned := trellis.pinned_version(workflow, wf_id, opts);
    new_runs := trellis.create_runs(wf_id, workflow, pinned, actor_id, principal, ARRAY[input], opts);
    IF cardinality(new_runs) = 0 THEN
        -- Another transaction started the same idempotent run first.
        SELECT * INTO existing FROM trellis.workflow_runs r WHERE r.workflow_id = wf_id AND r.idempotency_key = opts ->> 'idempotency_key';
        PERFORM trellis.require_same_input(existing, input);
        RETURN QUERY SELECT existing.id, existing.status, false;
        RETURN;
    END IF;
    RETURN QUERY SELECT r.id, r.status, true FROM trellis.workflow_runs r WHERE r.id = new_runs[1];
END;
$fn$;
