-- A follow-up message: decides the run's oldest pending approval with the answer.
SELECT trellis.a2a_reply($1::uuid, $2, $3, $4) AS status
