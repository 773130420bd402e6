SELECT trellis.decide_approval($1::uuid, $2, $3, $4) AS status
