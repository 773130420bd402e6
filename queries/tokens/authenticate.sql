SELECT trellis.authenticate_token(decode($1, 'hex')) AS principal
