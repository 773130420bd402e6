SELECT trellis.reclaim_expired($1::integer) AS reclaimed
