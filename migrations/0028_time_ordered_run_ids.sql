-- Time-ordered run ids (issue 12). A run's id leads four B-trees that every run writes
-- (workflow_runs_pkey, node_runs_unique_item, run_events_pkey, node_attempts_run_idx), and
-- gen_random_uuid() sent each new run's entries to a random leaf page of each. Over a long
-- history such a page is seldom in shared buffers, and the first change to it after a
-- checkpoint writes the whole 8 KB page into the WAL: a drain of 20,000 one-node runs over
-- 10⁶ finished node runs wrote 17,035 bytes of WAL per node, against 6,220 with no history.
-- A UUIDv7 (RFC 9562: 48 bits of Unix time in milliseconds, the version, 74 random bits)
-- puts a new run's entries at the right-hand edge of each index, on pages that are hot.
-- Runs that exist keep their ids (no rewrite); an id still says nothing guessable but the
-- millisecond its run was created, which created_at shows anyway. Ids made in the same
-- millisecond are ordered at random among themselves: nothing orders runs by id.
CREATE OR REPLACE FUNCTION trellis.uuid_v7() RETURNS uuid
LANGUAGE sql VOLATILE PARALLEL SAFE AS $$
    -- A v4 UUID's first 48 bits replaced by the time; its version nibble 0100 becomes 0111
    -- (bits 52 and 53 set); its variant bits stay 10. date_part, not extract: extract's
    -- numeric arithmetic cost more than the rest together. One expression, so it is inlined.
    SELECT encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid())
                  PLACING substring(int8send(floor(date_part('epoch', clock_timestamp()) * 1000)::bigint) FROM 3)
                  FROM 1 FOR 6), 52, 1), 53, 1), 'hex')::uuid
$$;
COMMENT ON FUNCTION trellis.uuid_v7() IS
    'A new time-ordered UUID (version 7, RFC 9562): the id of every new run.';
ALTER TABLE trellis.workflow_runs ALTER COLUMN id SET DEFAULT trellis.uuid_v7();
