-- Run inputs may reference artifacts as {"$artifact": "<sha256>"} anywhere inside them.
-- Each one must exist and be readable by the principal starting the runs: an unknown one
-- is TR404, one it may not read 42501, named by the input's position (`inputs[i]`) when
-- there are several. Checked before anything is written.
CREATE OR REPLACE FUNCTION trellis.check_input_artifacts(actor_id bigint, inputs jsonb[]) RETURNS void
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
    bad record;
    label text;
BEGIN
    SELECT u.ord, ref #>> '{}' AS sha, a AS artifact INTO bad
    FROM unnest(inputs) WITH ORDINALITY AS u(input, ord)
    CROSS JOIN LATERAL jsonb_path_query(u.input, 'strict $.**."$artifact"') AS ref
    LEFT JOIN trellis.artifacts a ON a.sha256 = ref #>> '{}'
    WHERE u.input IS NOT NULL AND position('"$artifact"' IN u.input::text) > 0
      AND (a.id IS NULL OR NOT trellis.may_read_artifact(actor_id, a))
    ORDER BY u.ord LIMIT 1;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    label := CASE WHEN cardinality(inputs) > 1 THEN format('inputs[%s]: ', bad.ord - 1) ELSE '' END;
    IF (bad.artifact).id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'TR404', MESSAGE = format('%srun input references unknown artifact %s', label, bad.sha);
    END IF;
    RAISE EXCEPTION USING ERRCODE = '42501',
        MESSAGE = format('%srun input references artifact %s, which principal %s may not read', label, bad.sha,
                         (SELECT p.name FROM trellis.principals p WHERE p.id = actor_id));
END;
$fn$;
