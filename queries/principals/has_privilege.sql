SELECT trellis.has_privilege($1, $2, $3) AS allowed
