SELECT to_regclass('trellis.schema_migrations') IS NOT NULL AS migrations,
       to_regclass('trellis.schema_definitions') IS NOT NULL AS definitions
