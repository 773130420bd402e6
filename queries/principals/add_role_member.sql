SELECT trellis.add_role_member($1, $2, $3) AS added
