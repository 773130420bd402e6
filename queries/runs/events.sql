SELECT seq, type, ts, data FROM trellis.run_events WHERE run_id = $1::uuid AND seq > $2::bigint ORDER BY seq
