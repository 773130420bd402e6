-- Definition files were renamed, with no change to what they define: sql/090_roles became
-- sql/090_grants (it only grants; roles are created in sql/005_roles), and files that held
-- several functions were split, one function per file, named after it. The old paths'
-- bookkeeping rows go, so `trellis migrate status` does not list them as removed; the new
-- paths are applied as new.
DELETE FROM trellis.schema_definitions WHERE path IN (
    'sql/090_roles/0100_roles.sql',
    'sql/020_workflows/0300_function_publish_workflow.sql',
    'sql/030_runs/0200_function_settle_node.sql',
    'sql/030_runs/0700_function_run_control.sql',
    'sql/050_history/0700_function_prune_runs.sql',
    'sql/060_tokens/0100_function_tokens.sql');
