-- The data bindings and predicates of a run see: input, context and each finished node's output.
CREATE OR REPLACE FUNCTION trellis.run_data(run uuid) RETURNS jsonb
LANGUAGE sql STABLE AS $fn$
    SELECT jsonb_build_object('input', r.input, 'context', r.context)
        || coalesce((SELECT jsonb_object_agg(n.node_key, n.output)
                     FROM trellis.node_runs n
                     WHERE n.run_id = run AND n.parent_id IS NULL AND n.status IN ('succeeded', 'failed')
                       AND n.output IS NOT NULL), '{}'::jsonb)
    FROM trellis.workflow_runs r
    WHERE r.id = run
$fn$;
