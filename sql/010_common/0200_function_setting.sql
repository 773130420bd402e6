-- A numeric limit from the `trellis.<name>` run-time setting (ALTER DATABASE … SET
-- trellis.max_output_bytes = …, or per role), or `fallback` when it is unset or not a
-- whole number. The limits and their defaults are listed in docs/reliability.md.
CREATE OR REPLACE FUNCTION trellis.setting(name text, fallback bigint) RETURNS bigint
LANGUAGE sql STABLE AS $fn$
    SELECT CASE WHEN v ~ '^[0-9]{1,18}$' THEN v::bigint ELSE fallback END
    FROM (SELECT current_setting('trellis.' || name, true) AS v) s
$fn$;
