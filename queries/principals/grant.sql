SELECT trellis.grant_privilege($1, $2, $3, $4) AS changed
