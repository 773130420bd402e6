-- The artifacts a principal may read, newest first.
SELECT trellis.list_artifacts($1, $2::integer) AS document
