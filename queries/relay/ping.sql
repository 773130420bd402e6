-- The relay's /healthz: the database answers.
SELECT 1 AS ok
