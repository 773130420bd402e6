-- A numeric limit from the `trellis.<name>` run-time setting (ALTER DATABASE … SET
-- trellis.max_output_bytes = …, or per role), or `fallback` when it is unset or not a
-- whole number. The limits and their defaults are listed in docs/reliability.md.
-- PL/pgSQL so its plan is kept for the session (a SQL function with a subquery is planned
-- afresh in every transaction; the hot path reads several limits per call).
CREATE OR REPLACE FUNCTION trellis.setting(name text, fallback bigint) RETURNS bigint
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
    v text := current_setting('trellis.' || name, true);
BEGIN
    RETURN CASE WHEN v ~ '^[0-9]{1,18}$' THEN v::bigint ELSE fallback END;
END;
$fn$;
