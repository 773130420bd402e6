-- Database roles (cluster-wide, so created only when missing; a concurrent creator in
-- another database is tolerated):
--   trellis_admin      everything in schema trellis
--   trellis_scheduler  claim/complete path (granted per function by the engine's definitions)
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

GRANT USAGE ON SCHEMA trellis TO trellis_admin, trellis_scheduler, trellis_analyst;
GRANT ALL ON ALL TABLES IN SCHEMA trellis TO trellis_admin;
GRANT ALL ON ALL SEQUENCES IN SCHEMA trellis TO trellis_admin;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA trellis TO trellis_admin;
