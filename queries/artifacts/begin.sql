-- Start an upload; returns its id.
SELECT trellis.begin_artifact($1, $2, $3) AS id
