-- Delete a schedule (its runs stay).
SELECT trellis.delete_schedule($1, $2)
