-- Events of one run after a cursor, in seq order; at most $3 when it is not NULL.
SELECT seq, type, ts, data FROM trellis.run_events
WHERE run_id = $1::uuid AND seq > $2::bigint ORDER BY seq LIMIT $3::integer
