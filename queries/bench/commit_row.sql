INSERT INTO trellis_bench.commits (id) VALUES ($1::bigint)
