-- What this database's schema is made of — every applied migration and definition file
-- with its checksum — so that a process built from one catalogue does not run against a
-- schema made from another: `trellis scheduler` and `trellis relay` compare it with their
-- own at start-up (trellis.schema_migrations and schema_definitions are the migration
-- runner's; the scheduler's role reads no tables, hence SECURITY DEFINER).
CREATE OR REPLACE FUNCTION trellis.schema_state()
RETURNS TABLE (kind text, name text, version integer, checksum text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, trellis, pg_temp AS $fn$
    SELECT 'migration', m.name, m.version, m.checksum FROM trellis.schema_migrations m
    UNION ALL
    SELECT 'definition', d.path, NULL, d.checksum FROM trellis.schema_definitions d
$fn$;
