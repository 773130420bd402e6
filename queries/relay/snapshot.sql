SELECT trellis.run_snapshot($1::uuid, $2) AS snapshot
