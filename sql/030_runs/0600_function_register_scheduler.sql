-- Registers a scheduler instance under the caller's login (session_user, checked by every
-- scheduler function: trellis.require_scheduler); returns its id.
CREATE OR REPLACE FUNCTION trellis.register_scheduler(name text, handlers text[], concurrency integer DEFAULT 1,
                                                      hostname text DEFAULT '', pid integer DEFAULT NULL, version text DEFAULT '')
RETURNS bigint
LANGUAGE sql
-- One of the functions trellis_scheduler may call (sql/090_grants): runs with the owner's rights.
SECURITY DEFINER SET search_path = pg_catalog, trellis, pg_temp AS $fn$
    INSERT INTO trellis.schedulers (name, handlers, concurrency, hostname, pid, version, login)
    VALUES (name, coalesce(handlers, '{}'), greatest(coalesce(concurrency, 1), 1), coalesce(hostname, ''), pid, coalesce(version, ''),
            session_user)
    RETURNING id
$fn$;
