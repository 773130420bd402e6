-- A new schedule, as its document.
SELECT trellis.create_schedule($1, $2, $3, $4, $5::jsonb, $6, $7, $8) AS document
