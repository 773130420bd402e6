SELECT trellis.revoke_token($1, $2) AS revoked
