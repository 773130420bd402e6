-- Reports successful results in a batch: [{"id", "attempt", "output", "cost", "tokens_in",
-- "tokens_out"}] (cost and tokens optional; tokens are an llm call's, kept on the attempt).
-- A result is applied only when its node run is still running with that attempt (the
-- fencing token); anything else — a lease lost and reclaimed, a cancelled run, a
-- duplicate delivery — is refused and reported, never applied. The accepted batch is
-- settled set-based in two statements (settle_succeeded), then each touched run whose
-- settled nodes have dependents advances once (dependents become ready); a run whose
-- settled nodes were all sinks has nothing to advance and only finishes when nothing is
-- left (the common case of a fan-out's leaves, where the advance pass measured as the
-- largest cost after settling itself), in the same update of its row that settles its
-- last nodes. A batch with a parallel node's child settles node by node instead
-- (settle_child, settle_nodes), and every touched run advances. Sequential
-- scans are priced out for the whole call (and the functions it calls): a batch touches a
-- few rows by key, and a table that was never analysed — a busy queue right after a burst
-- — must not make the planner read it whole.
CREATE OR REPLACE FUNCTION trellis.complete_nodes(scheduler bigint, results jsonb)
RETURNS TABLE (node_run_id bigint, accepted boolean, reason text)
LANGUAGE plpgsql
-- One of the functions trellis_scheduler may call (sql/090_grants): runs with the owner's rights.
-- Generic plans, made once per session, for it and what it calls (settle_nodes): custom
-- plans were made afresh for every batch.
-- A generic plan is kept until the statistics change, and one made on near-empty tables
-- can take anything for small: rows of the batch are read by a lookup per item (LATERAL
-- … OFFSET 0, which the planner cannot turn into a join), not by joining two lists
-- (nested, that is batch² comparisons) or a list and a table (which it may read whole).
SECURITY DEFINER SET search_path = pg_catalog, trellis, pg_temp SET enable_seqscan = off SET jit = off
SET plan_cache_mode = force_generic_plan AS $fn$
DECLARE
    all_ids bigint[];
    reasons text[];
    ids bigint[];
    attempts int[];
    outputs jsonb[];
    costs numeric[];
    ins bigint[];
    outs bigint[];
    is_child boolean[];
    runs_of uuid[];
    touched uuid[];
    moving uuid[];
    i int;
    too_large_id text;
    too_large_size int;
    output_cap bigint := trellis.setting('max_output_bytes', 5242880);
BEGIN
    PERFORM trellis.require_report(scheduler, results, 'results must be a JSON array of {id, attempt, output, cost}');
    -- An output over the cap is refused before anything is locked or written; the
    -- scheduler reports that node as failed (output_too_large) and the rest of its batch
    -- again. jsonb's stored size is what the cap measures. No output is larger than the
    -- whole uncompressed batch, so a batch within the cap (the usual case) skips the scan.
    IF pg_column_size(results) > output_cap - 64
       OR pg_column_compression(results) IS NOT NULL THEN
        SELECT t.e ->> 'id', pg_column_size(t.e -> 'output') INTO too_large_id, too_large_size
        FROM jsonb_array_elements(results) AS t(e)
        WHERE pg_column_size(t.e -> 'output') > output_cap
        LIMIT 1;
        IF too_large_id IS NOT NULL THEN
            RAISE EXCEPTION USING ERRCODE = '54000', COLUMN = 'output',
                MESSAGE = format('node run %s: output is %s bytes, over the cap of %s bytes (trellis.max_output_bytes)',
                                 too_large_id, too_large_size, output_cap);
        END IF;
    END IF;
    PERFORM trellis.lock_runs_of_items(results);  -- runs before nodes
    -- Lock the node runs in (run, id) order — the order every batch uses — then judge
    -- each result against its fencing token, reading its row by key; a second result for
    -- one node in the same batch is a duplicate.
    PERFORM 1 FROM trellis.node_runs n
    WHERE n.id = ANY (ARRAY(SELECT (t.e ->> 'id')::bigint FROM jsonb_array_elements(results) AS t(e)))
    ORDER BY n.run_id, n.id
    FOR UPDATE;
    WITH items AS (
        SELECT t.ord, (t.e ->> 'id')::bigint AS id, (t.e ->> 'attempt')::int AS attempt,
               coalesce(t.e -> 'output', 'null'::jsonb) AS output, coalesce((t.e ->> 'cost')::numeric, 0) AS cost,
               (t.e ->> 'tokens_in')::bigint AS used_in, (t.e ->> 'tokens_out')::bigint AS used_out
        FROM jsonb_array_elements(results) WITH ORDINALITY AS t(e, ord)
    ), judged AS (
        SELECT i.*, l.run_id, l.parent_id, l.moves,
               CASE WHEN row_number() OVER (PARTITION BY i.id ORDER BY i.ord) > 1 THEN 'duplicate result in this batch'
                    ELSE trellis.stale_result_reason(l.found_id, l.status, l.attempt, l.scheduler_id, i.attempt, scheduler) END AS reason
        FROM items i
        LEFT JOIN LATERAL (
            SELECT n.id AS found_id, n.status, n.attempt, n.scheduler_id, n.run_id, n.parent_id,
                   EXISTS (SELECT 1 FROM trellis.workflow_edges e WHERE e.from_node_id = n.node_id) AS moves
            FROM trellis.node_runs n WHERE n.id = i.id OFFSET 0) l ON true
    )
    SELECT array_agg(j.id ORDER BY j.ord), array_agg(j.reason ORDER BY j.ord),
           array_agg(j.id ORDER BY j.run_id, j.id) FILTER (WHERE j.reason IS NULL),
           array_agg(j.attempt ORDER BY j.run_id, j.id) FILTER (WHERE j.reason IS NULL),
           array_agg(j.output ORDER BY j.run_id, j.id) FILTER (WHERE j.reason IS NULL),
           array_agg(j.cost ORDER BY j.run_id, j.id) FILTER (WHERE j.reason IS NULL),
           array_agg(j.used_in ORDER BY j.run_id, j.id) FILTER (WHERE j.reason IS NULL),
           array_agg(j.used_out ORDER BY j.run_id, j.id) FILTER (WHERE j.reason IS NULL),
           array_agg(j.parent_id IS NOT NULL ORDER BY j.run_id, j.id) FILTER (WHERE j.reason IS NULL),
           array_agg(j.run_id ORDER BY j.run_id, j.id) FILTER (WHERE j.reason IS NULL),
           array_agg(DISTINCT j.run_id) FILTER (WHERE j.reason IS NULL),
           coalesce(array_agg(DISTINCT j.run_id) FILTER (WHERE j.reason IS NULL AND j.moves), '{}')
    INTO all_ids, reasons, ids, attempts, outputs, costs, ins, outs, is_child, runs_of, touched, moving
    FROM judged j;

    IF ids IS NOT NULL AND NOT true = ANY (is_child) THEN
        PERFORM trellis.settle_succeeded(ids, runs_of, attempts, outputs, costs, ins, outs, moving);
    ELSIF ids IS NOT NULL THEN
        UPDATE trellis.node_attempts a SET outcome = 'succeeded', finished_at = now(), cost = r.cost,
                                           tokens_in = r.used_in, tokens_out = r.used_out
        FROM unnest(ids, attempts, costs, ins, outs) AS r(id, attempt, cost, used_in, used_out)
        WHERE a.node_run_id = r.id AND a.attempt = r.attempt;
        moving := touched;  -- a child moves its parallel parent: advance everything
        -- Children of parallel nodes move their parent on one by one.
        FOR i IN 1 .. cardinality(ids) LOOP
            IF is_child[i] THEN
                UPDATE trellis.node_runs n SET cost = n.cost + costs[i] WHERE n.id = ids[i];
                PERFORM trellis.settle_child(ids[i], 'succeeded', outputs[i], NULL);
            ELSE
                PERFORM trellis.settle_nodes(ARRAY[ids[i]], ARRAY['succeeded'], ARRAY[outputs[i]], ARRAY[NULL::jsonb],
                                             ARRAY[costs[i]]);
            END IF;
        END LOOP;
    END IF;
    IF ids IS NOT NULL THEN
        -- Runs whose settled nodes have dependents (`moving`, from the judging statement) advance.
        FOR i IN 1 .. cardinality(touched) LOOP
            IF touched[i] = ANY (moving) THEN
                PERFORM trellis.advance_run(touched[i]);
            END IF;
        END LOOP;
    END IF;

    RETURN QUERY SELECT r.id, r.reason IS NULL, r.reason FROM unnest(all_ids, reasons) WITH ORDINALITY AS r(id, reason, ord) ORDER BY r.ord;
END;
$fn$;
