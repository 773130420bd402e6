-- Counts settled inputs into dependents (settle_nodes): node run `dependent_ids[i]` has
-- `settled_counts[i]` more inputs settled, `taken_counts[i]` of them taken. Both sides of
-- the update are bounded by the listed ids and joined by hash, never nested: a nested loop
-- between the list and the rows read by `= ANY` compares every pair (batch²: 640,000 for a
-- burst of 100 runs of root → 8), and one driven by node_runs reads the whole table. The
-- one statement here is the only join this forces to hash.
CREATE OR REPLACE FUNCTION trellis.add_settled_inputs(dependent_ids bigint[], settled_counts bigint[], taken_counts bigint[])
RETURNS void
LANGUAGE plpgsql
SET enable_nestloop = off SET enable_seqscan = off SET jit = off SET plan_cache_mode = force_generic_plan AS $fn$
BEGIN
    UPDATE trellis.node_runs d
    SET remaining_deps = greatest(d.remaining_deps - p.settled, 0), taken_deps = d.taken_deps + p.taken
    FROM unnest(dependent_ids, settled_counts, taken_counts) AS p(id, settled, taken)
    WHERE d.id = p.id AND d.id = ANY (dependent_ids);
END;
$fn$;
