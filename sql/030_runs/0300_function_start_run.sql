-- Starts a run of a workflow's latest (or a given) version as `principal`, who needs the
-- `run` privilege. Creates one node run per node, makes the roots ready (or decides them,
-- for control nodes) and appends run.queued. Options (all optional):
--   {"priority": int, "idempotency_key": text, "version": int, "context": object}
-- The same idempotency key for the same workflow returns the existing run (created = false)
-- when the input is the same; a different input under a used key is refused (TR409), as a
-- retried request must not silently drop a changed payload.
-- The usual start — an enabled administrator or the workflow's owner, its latest version,
-- an object input under the cap, no options — is one lookup and no check statements
-- (a start is a scheduler's pickup latency and a client's enqueue rate: each statement
-- here cost 20–60 µs of executor set-up). Anything else (an unknown or disabled
-- principal, an unknown workflow, a grant to look up, a pinned version, a bad input or
-- option) goes through the checks that name what is wrong, in the same order as before.
CREATE OR REPLACE FUNCTION trellis.start_run(
    workflow text, input jsonb DEFAULT '{}', principal text DEFAULT 'admin', options jsonb DEFAULT '{}'
) RETURNS TABLE (run_id uuid, status text, created boolean)
LANGUAGE plpgsql AS $fn$
DECLARE
    opts jsonb := coalesce(options, '{}');
    actor_id bigint;
    wf_id bigint;
    lookup record;
    usual boolean := false;
    pinned_id bigint;
    pinned_number integer;
    new_runs uuid[];
    existing trellis.workflow_runs;
BEGIN
    IF NOT opts ? 'version' THEN
        SELECT p.id AS actor_id, w.id AS wf_id, lv.id AS pinned_id, lv.version AS pinned_number INTO lookup
        FROM trellis.principals p
        JOIN trellis.workflows w ON w.name = workflow AND (p.is_admin OR w.owner_id = p.id)
        CROSS JOIN LATERAL (SELECT v.id, v.version FROM trellis.workflow_versions v
                            WHERE v.workflow_id = w.id ORDER BY v.version DESC LIMIT 1) lv
        WHERE p.name = principal AND p.disabled_at IS NULL;
        usual := FOUND;
    END IF;
    IF usual THEN
        actor_id := lookup.actor_id;
        wf_id := lookup.wf_id;
        pinned_id := lookup.pinned_id;
        pinned_number := lookup.pinned_number;
    ELSE
        actor_id := trellis.principal_id(principal);
        wf_id := trellis.workflow_id(workflow);
        PERFORM trellis.require_privilege(actor_id, wf_id, 'run');
    END IF;
    input := coalesce(input, '{}');
    IF NOT trellis.run_input_fits(input) THEN
        PERFORM trellis.check_run_inputs(ARRAY[input]);
    END IF;
    IF opts <> '{}' THEN
        PERFORM trellis.check_run_options(opts);
    END IF;

    IF opts ? 'idempotency_key' THEN
        SELECT * INTO existing FROM trellis.workflow_runs r WHERE r.workflow_id = wf_id AND r.idempotency_key = opts ->> 'idempotency_key';
        IF existing.id IS NOT NULL THEN
            PERFORM trellis.require_same_input(existing, input);
            RETURN QUERY SELECT existing.id, existing.status::text, false;
            RETURN;
        END IF;
    END IF;

    IF pinned_id IS NULL THEN
        SELECT p.version_id, p.version_number INTO pinned_id, pinned_number FROM trellis.pinned_version(workflow, wf_id, opts) p;
    END IF;
    new_runs := trellis.create_runs(wf_id, workflow, pinned_id, pinned_number, actor_id, principal, ARRAY[input], opts);
    IF cardinality(new_runs) = 0 THEN
        -- Another transaction started the same idempotent run first.
        SELECT * INTO existing FROM trellis.workflow_runs r WHERE r.workflow_id = wf_id AND r.idempotency_key = opts ->> 'idempotency_key';
        PERFORM trellis.require_same_input(existing, input);
        RETURN QUERY SELECT existing.id, existing.status::text, false;
        RETURN;
    END IF;
    -- status is a domain (migration 0027): RETURN QUERY takes only the declared type.
    RETURN QUERY SELECT r.id, r.status::text, true FROM trellis.workflow_runs r WHERE r.id = new_runs[1];
END;
$fn$;
