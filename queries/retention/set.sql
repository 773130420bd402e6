-- Set (or, with both limits NULL, clear) a workflow's retention, or the default when $1 is NULL.
SELECT keep_days, keep_runs, source FROM trellis.set_retention($1, $2::integer, $3::integer, $4)
