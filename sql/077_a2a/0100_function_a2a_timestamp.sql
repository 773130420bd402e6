-- A timestamp as A2A (protobuf JSON) writes it: RFC 3339 in UTC with microseconds.
CREATE OR REPLACE FUNCTION trellis.a2a_timestamp(at timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE AS $fn$
    SELECT to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
$fn$;
