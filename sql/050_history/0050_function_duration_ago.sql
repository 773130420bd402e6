-- now() minus a duration given as text (30d, 12h, 90m, 45s, 500ms), for history windows
-- and retention cutoffs; raises 22023 naming the option (`label`) and the bad value.
CREATE OR REPLACE FUNCTION trellis.duration_ago(duration text, label text DEFAULT 'duration') RETURNS timestamptz
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
    ms bigint := trellis.parse_duration_ms(to_jsonb(duration));
BEGIN
    IF ms IS NULL OR ms <= 0 THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('%s must be a positive duration like 30d, 12h or 90m, got "%s"', label, duration);
    END IF;
    RETURN now() - ms * interval '1 millisecond';
END;
$fn$;
