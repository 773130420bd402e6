SELECT trellis.revoke_privilege($1, $2, $3, $4) AS changed
