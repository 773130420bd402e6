-- A run as an A2A Task, for a principal who may view it.
SELECT trellis.a2a_task($1::uuid, $2) AS document
