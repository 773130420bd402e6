-- Grants that cover every object of the schema, applied after all definitions:
--   trellis_admin      everything in schema trellis
--   trellis_analyst    only the history views and workflow_stats (granted in sql/050_history)
GRANT USAGE ON SCHEMA trellis TO trellis_admin, trellis_scheduler, trellis_analyst;
GRANT ALL ON ALL TABLES IN SCHEMA trellis TO trellis_admin;
GRANT ALL ON ALL SEQUENCES IN SCHEMA trellis TO trellis_admin;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA trellis TO trellis_admin;
