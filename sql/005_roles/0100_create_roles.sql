-- Database roles, created before any definition grants to them (cluster-wide, so
-- created only when missing; a concurrent creator in another database is tolerated):
--   trellis_admin      everything in schema trellis
--   trellis_scheduler  a scheduler login: the scheduler loop's functions only (granted in
--                      sql/090_grants)
--   trellis_analyst    read-only history views (granted by the history definitions)
DO $fn$
DECLARE
    role_name text;
BEGIN
    FOREACH role_name IN ARRAY ARRAY['trellis_admin', 'trellis_scheduler', 'trellis_analyst'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = role_name) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN', role_name);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL;
            END;
        END IF;
    END LOOP;
END;
$fn$;
