-- One schedule with its recent fires.
SELECT trellis.show_schedule($1, $2) AS document
