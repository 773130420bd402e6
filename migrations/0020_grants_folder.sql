-- sql/090_roles/0100_roles.sql became sql/090_grants/0100_grants.sql (it only grants;
-- roles are created in sql/005_roles). Its bookkeeping row goes, so `trellis migrate
-- status` does not list the old path as removed; the new path is applied as new.
DELETE FROM trellis.schema_definitions WHERE path = 'sql/090_roles/0100_roles.sql';
