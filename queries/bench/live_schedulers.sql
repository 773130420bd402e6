-- Live registrations of the bench's scheduler processes: each registers its lanes as
-- NAME/1, NAME/2, … (or NAME alone with one lane).
SELECT count(*) AS live FROM trellis.schedulers s
WHERE s.stopped_at IS NULL
  AND EXISTS (SELECT 1 FROM unnest($1::text[]) AS n(name) WHERE s.name = n.name OR left(s.name, length(n.name) + 1) = n.name || '/')
