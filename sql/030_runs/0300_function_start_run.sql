-- Starts a run of a workflow's latest (or a given) version as `principal`, who needs the
-- `run` privilege. Creates one node run per node, makes the roots ready (or decides them,
-- for control nodes) and appends run.queued. Options (all optional):
--   {"priority": int, "idempotency_key": text, "version": int, "context": object}
-- The same idempotency key for the same workflow returns the existing run (created = false)
-- when the input is the same; a different input under a used key is refused (TR409), as a
-- retried request must not silently drop a changed payload.
CREATE OR REPLACE FUNCTION trellis.require_same_input(existing trellis.workflow_runs, input jsonb) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
    IF existing.input IS DISTINCT FROM input THEN
        RAISE EXCEPTION USING ERRCODE = 'TR409',
            MESSAGE = format('idempotency key "%s" already started run %s with a different input', existing.idempotency_key, existing.id),
            HINT = 'use a new key for a new request, or send the same input to get the existing run';
    END IF;
END;
$fn$;

CREATE OR REPLACE FUNCTION trellis.start_run(
    workflow text, input jsonb DEFAULT '{}', principal text DEFAULT 'admin', options jsonb DEFAULT '{}'
) RETURNS TABLE (run_id uuid, status text, created boolean)
LANGUAGE plpgsql AS $fn$
DECLARE
    actor_id bigint := trellis.principal_id(principal);
    wf_id bigint := trellis.workflow_id(workflow);
    opts jsonb := coalesce(options, '{}');
    field text;
    pinned trellis.workflow_versions;
    new_run uuid;
    existing trellis.workflow_runs;
BEGIN
    PERFORM trellis.require_privilege(actor_id, wf_id, 'run');
    input := coalesce(input, '{}');
    IF jsonb_typeof(input) <> 'object' THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('run input must be a JSON object, got %s', jsonb_typeof(input));
    END IF;
    IF pg_column_size(input) > trellis.setting('max_input_bytes', 5242880) THEN
        RAISE EXCEPTION USING ERRCODE = '54000', COLUMN = 'input',
            MESSAGE = format('run input is %s bytes, over the cap of %s bytes (trellis.max_input_bytes)',
                             pg_column_size(input), trellis.setting('max_input_bytes', 5242880));
    END IF;
    IF jsonb_typeof(opts) <> 'object' THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'run options must be a JSON object';
    END IF;
    FOR field IN SELECT jsonb_object_keys(opts) LOOP
        IF field NOT IN ('priority', 'idempotency_key', 'version', 'context') THEN
            RAISE EXCEPTION USING ERRCODE = '22023',
                MESSAGE = format('unknown run option "%s" (expected priority, idempotency_key, version, context)', field);
        END IF;
    END LOOP;
    IF opts ? 'priority' AND (jsonb_typeof(opts -> 'priority') <> 'number' OR (opts ->> 'priority') !~ '^-?[0-9]{1,9}$') THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('priority must be an integer, got %s', opts -> 'priority');
    END IF;
    IF opts ? 'idempotency_key' AND (jsonb_typeof(opts -> 'idempotency_key') <> 'string'
        OR length(opts ->> 'idempotency_key') NOT BETWEEN 1 AND 255) THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'idempotency_key must be a string of 1 to 255 characters';
    END IF;
    IF opts ? 'context' AND jsonb_typeof(opts -> 'context') <> 'object' THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'context must be a JSON object';
    END IF;

    IF opts ? 'idempotency_key' THEN
        SELECT * INTO existing FROM trellis.workflow_runs r WHERE r.workflow_id = wf_id AND r.idempotency_key = opts ->> 'idempotency_key';
        IF existing.id IS NOT NULL THEN
            PERFORM trellis.require_same_input(existing, input);
            RETURN QUERY SELECT existing.id, existing.status, false;
            RETURN;
        END IF;
    END IF;

    SELECT * INTO pinned FROM trellis.workflow_versions v
    WHERE v.workflow_id = wf_id AND (NOT opts ? 'version' OR v.version = (opts ->> 'version')::int)
    ORDER BY v.version DESC LIMIT 1;
    IF pinned.id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'TR404', MESSAGE = CASE WHEN opts ? 'version'
            THEN format('workflow "%s" has no version %s', workflow, opts ->> 'version')
            ELSE format('workflow "%s" has no published version', workflow) END;
    END IF;

    INSERT INTO trellis.workflow_runs (workflow_id, version_id, input, context, started_by, priority, idempotency_key, nodes_remaining)
    VALUES (wf_id, pinned.id, input, coalesce(opts -> 'context', '{}'), actor_id, coalesce((opts ->> 'priority')::int, 0),
            opts ->> 'idempotency_key', (SELECT count(*) FROM trellis.workflow_nodes WHERE version_id = pinned.id))
    ON CONFLICT ON CONSTRAINT workflow_runs_workflow_id_idempotency_key_key DO NOTHING
    RETURNING id INTO new_run;
    IF new_run IS NULL THEN
        -- Another transaction started the same idempotent run first.
        SELECT * INTO existing FROM trellis.workflow_runs r WHERE r.workflow_id = wf_id AND r.idempotency_key = opts ->> 'idempotency_key';
        PERFORM trellis.require_same_input(existing, input);
        RETURN QUERY SELECT existing.id, existing.status, false;
        RETURN;
    END IF;

    INSERT INTO trellis.node_runs (run_id, workflow_id, node_id, node_key, kind, handler, priority, max_attempts, remaining_deps)
    SELECT new_run, wf_id, wn.id, wn.key, wn.kind, wn.handler, coalesce((opts ->> 'priority')::int, 0), wn.retry_max_attempts, wn.upstream_count
    FROM trellis.workflow_nodes wn
    WHERE wn.version_id = pinned.id
    ORDER BY wn.execution_level, wn.position;

    PERFORM trellis.append_event(new_run, 'run.queued', jsonb_build_object(
        'workflow', workflow, 'version', pinned.version, 'priority', coalesce((opts ->> 'priority')::int, 0),
        'started_by', principal));
    PERFORM trellis.advance_run(new_run);
    RETURN QUERY SELECT r.id, r.status, true FROM trellis.workflow_runs r WHERE r.id = new_run;
END;
$fn$;
