-- Session-level advisory lock: concurrent runners queue here instead of interleaving.
SELECT pg_advisory_lock($1::bigint)
