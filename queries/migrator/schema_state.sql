-- Whether trellis.schema_state() exists: not in an empty database, nor in one last
-- migrated by a build from before it.
SELECT to_regprocedure('trellis.schema_state()') IS NOT NULL AS present
