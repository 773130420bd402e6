SELECT count(*) AS live FROM trellis.schedulers s WHERE s.name = ANY ($1::text[]) AND s.stopped_at IS NULL
