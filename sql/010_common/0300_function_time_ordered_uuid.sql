-- A new run's id: a UUID whose first 48 bits are the Unix time in milliseconds and whose
-- other bits are random (the layout of RFC 9562's version 7; PostgreSQL 18 has uuidv7()).
-- A run's id leads the keys of its rows in workflow_runs, run_events, node_runs and
-- node_attempts, so random ids put every new run's index entries on random leaf pages of
-- indexes as large as the whole history: with 200,000 runs stored, starting 20,000 more
-- in one call took 1.69–1.77 s with random ids and 1.38–1.43 s with these (about 1.25 s on
-- an empty database either way). 74 random bits remain: an id is no easier to guess, it
-- only tells when the run was created, which the run's row says anyway.
-- A SQL function of one expression: inlined into the statement that calls it.
CREATE OR REPLACE FUNCTION trellis.time_ordered_uuid() RETURNS uuid
LANGUAGE sql VOLATILE AS $fn$
    SELECT encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid())
                                          PLACING substring(int8send((extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
                                          FROM 1 FOR 6), 52, 1), 53, 1), 'hex')::uuid
$fn$;
