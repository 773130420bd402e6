-- Runs a finished run again as a new run of the same version, input, context and
-- priority, linked to it (retry_of, and retry_root: the first run of the chain), started
-- by `principal`, who needs `run` on the workflow. Modes:
--   from_failed  top-level nodes that succeeded keep their output (the new node run
--                records it as reused_from, with no attempt and no cost); everything else
--                — failed, cancelled, skipped and never-reached nodes — is decided afresh,
--                so a failed node and its dependents run again while a condition's kept
--                output still chooses the same branch. A failed parallel node runs all its
--                items again. Refused (TR409) for a run that succeeded: nothing failed.
--   all          the whole run again, from the same input.
-- A run still open is refused (TR409: cancel it first); unknown run TR404; bad mode 22023.
-- The kept nodes' node.finished events carry reused_from; the artifacts they stored are
-- referenced by the new run too. Returns the new run, its status
-- and how many nodes were kept.
CREATE OR REPLACE FUNCTION trellis.retry_run(run uuid, principal text DEFAULT 'admin', mode text DEFAULT 'from_failed')
RETURNS TABLE (run_id uuid, status text, reused integer)
LANGUAGE plpgsql AS $fn$
DECLARE
    actor_id bigint := trellis.principal_id(principal);
    source trellis.workflow_runs;
    pinned_number integer;
    workflow text;
    new_run uuid;
    kept bigint[];
    kept_from bigint[];
    kept_outputs jsonb[];
BEGIN
    IF mode IS NULL OR mode NOT IN ('from_failed', 'all') THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('unknown retry mode "%s" (expected from_failed or all)', mode);
    END IF;
    -- A share lock: the run cannot be pruned or changed while its outputs are copied.
    SELECT * INTO source FROM trellis.workflow_runs r WHERE r.id = run FOR SHARE;
    IF source.id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'TR404', MESSAGE = format('unknown run %s', run);
    END IF;
    PERFORM trellis.require_privilege(actor_id, source.workflow_id, 'run');
    IF source.finished_at IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'TR409',
            MESSAGE = format('cannot retry run %s: it is still %s (cancel it first)', run, source.status);
    END IF;
    IF mode = 'from_failed' AND source.status = 'succeeded' THEN
        RAISE EXCEPTION USING ERRCODE = 'TR409',
            MESSAGE = format('cannot retry run %s from where it failed: it succeeded (use mode all to run it again)', run);
    END IF;
    SELECT v.version INTO pinned_number FROM trellis.workflow_versions v WHERE v.id = source.version_id;
    SELECT w.name INTO workflow FROM trellis.workflows w WHERE w.id = source.workflow_id;
    new_run := (trellis.create_runs(source.workflow_id, workflow, source.version_id, pinned_number, actor_id, principal, ARRAY[source.input],
                                    jsonb_build_object('priority', source.priority, 'context', source.context,
                                                       'retry_of', source.id, 'retry_root', coalesce(source.retry_root, source.id))))[1];
    IF mode = 'from_failed' THEN
        SELECT array_agg(n.id ORDER BY n.id), array_agg(s.id ORDER BY n.id), array_agg(s.output ORDER BY n.id)
        INTO kept, kept_from, kept_outputs
        FROM trellis.node_runs s
        JOIN trellis.node_runs n ON n.run_id = new_run AND n.node_id = s.node_id AND n.parent_id IS NULL
        WHERE s.run_id = source.id AND s.parent_id IS NULL AND s.status = 'succeeded';
        IF kept IS NOT NULL THEN
            UPDATE trellis.node_runs n SET reused_from = k.source_id
            FROM unnest(kept, kept_from) AS k(id, source_id) WHERE n.id = k.id;
            PERFORM trellis.settle_nodes(kept, array_fill('succeeded'::text, ARRAY[cardinality(kept)]), kept_outputs,
                                         array_fill(NULL::jsonb, ARRAY[cardinality(kept)]));
            -- Artifacts the kept nodes (and their items) stored stay readable through the new run.
            INSERT INTO trellis.artifact_refs (artifact_id, run_id, node_run_id, role)
            SELECT f.artifact_id, new_run, k.id, 'output'
            FROM trellis.artifact_refs f
            JOIN trellis.node_runs s ON s.id = f.node_run_id
            JOIN unnest(kept, kept_from) AS k(id, source_id) ON k.source_id = coalesce(s.parent_id, s.id)
            WHERE f.run_id = source.id AND f.role = 'output'
            ON CONFLICT DO NOTHING;
            PERFORM trellis.advance_run(new_run);
        END IF;
    END IF;
    -- status is a domain (migration 0027), returned as text.
    RETURN QUERY SELECT r.id, r.status::text, coalesce(cardinality(kept), 0) FROM trellis.workflow_runs r WHERE r.id = new_run;
END;
$fn$;
