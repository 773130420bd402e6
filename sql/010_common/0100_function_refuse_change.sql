-- Trigger function that refuses UPDATE/DELETE on rows that are immutable once written:
-- published workflow versions (and their nodes and edges), templates, and the event log.
-- SQLSTATE TR001 lets clients tell "immutable" apart from other errors.
CREATE OR REPLACE FUNCTION trellis.refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING
        ERRCODE = 'TR001',
        MESSAGE = format('%s.%s is immutable: %s refused', TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_OP),
        DETAIL  = format('row %s', (to_jsonb(OLD) ->> 'id')),
        HINT    = CASE TG_TABLE_NAME
                    WHEN 'run_events' THEN 'the event log is append-only; retention deletes whole runs'
                    ELSE 'publish a new version instead'
                  END;
END;
$$;
