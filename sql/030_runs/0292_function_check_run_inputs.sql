-- Checks run inputs before anything is written (the rule: run_input_fits). The first
-- offender is named by its position (`inputs[i]`, from 0) when there are several.
CREATE OR REPLACE FUNCTION trellis.check_run_inputs(inputs jsonb[]) RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
    bad record;
    cap bigint := trellis.setting('max_input_bytes', 5242880);
    label text;
BEGIN
    SELECT u.ord, u.input, pg_column_size(u.input) AS bytes INTO bad
    FROM unnest(inputs) WITH ORDINALITY AS u(input, ord)
    WHERE NOT trellis.run_input_fits(u.input)
    ORDER BY u.ord LIMIT 1;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    label := CASE WHEN cardinality(inputs) > 1 THEN format('inputs[%s]: ', bad.ord - 1) ELSE '' END;
    IF jsonb_typeof(bad.input) <> 'object' THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('%srun input must be a JSON object, got %s', label, jsonb_typeof(bad.input));
    END IF;
    RAISE EXCEPTION USING ERRCODE = '54000', COLUMN = 'input',
        MESSAGE = format('%srun input is %s bytes, over the cap of %s bytes (trellis.max_input_bytes)', label, bad.bytes, cap);
END;
$fn$;
