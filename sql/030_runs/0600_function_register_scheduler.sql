-- Registers a scheduler instance; returns its id (the claim and report functions take it).
CREATE OR REPLACE FUNCTION trellis.register_scheduler(name text, handlers text[], concurrency integer DEFAULT 1,
                                                      hostname text DEFAULT '', pid integer DEFAULT NULL, version text DEFAULT '')
RETURNS bigint
LANGUAGE sql
-- One of the functions trellis_scheduler may call (sql/090_roles): runs with the owner's rights.
SECURITY DEFINER SET search_path = pg_catalog, trellis, pg_temp AS $fn$
    INSERT INTO trellis.schedulers (name, handlers, concurrency, hostname, pid, version)
    VALUES (name, coalesce(handlers, '{}'), greatest(coalesce(concurrency, 1), 1), coalesce(hostname, ''), pid, coalesce(version, ''))
    RETURNING id
$fn$;
