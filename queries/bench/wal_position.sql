-- The cluster's WAL insert position, in bytes from the start: the difference of two
-- readings is what was written between them (cluster-wide — anything else writing to
-- the cluster meanwhile counts too; point the bench at a scratch cluster).
SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::float8 AS bytes
