-- The run data predicates and edge conditions see: run_data, with every node output that
-- was stored as an artifact (over the scheduler's inline cap) read back whole, so a
-- condition tests the value, not its reference. Bindings use run_data itself: binding a
-- whole stored output keeps the reference, and paths into it resolve in resolve_bindings.
CREATE OR REPLACE FUNCTION trellis.condition_data(run uuid) RETURNS jsonb
LANGUAGE sql STABLE AS $fn$
    SELECT coalesce(jsonb_object_agg(d.key,
               CASE WHEN jsonb_typeof(d.value) = 'object' AND d.value ? '$artifact' AND d.value ? 'preview'
                         AND d.value -> 'truncated' = 'true'::jsonb
                    THEN coalesce(trellis.stored_output(d.value ->> '$artifact'), d.value)
                    ELSE d.value END), '{}'::jsonb)
    FROM jsonb_each(trellis.run_data(run)) AS d
$fn$;
