-- Run lifecycle events across runs after a feed cursor (trellis.run_feed).
SELECT cursor, visible, run_id, seq, type, ts, data::text AS data, workflow_name FROM trellis.run_feed($1, $2, $3, $4::integer)
