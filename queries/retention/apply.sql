-- One batch of retention (schedulers): finished runs past their workflow's policy.
SELECT trellis.apply_retention($1, $2::integer) AS removed
