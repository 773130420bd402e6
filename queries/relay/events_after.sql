-- Events of one run after a cursor, in order, at most $3 (the relay pages through).
SELECT seq, type, ts, data::text AS data FROM trellis.run_events
WHERE run_id = $1::uuid AND seq > $2::bigint ORDER BY seq LIMIT $3::integer
