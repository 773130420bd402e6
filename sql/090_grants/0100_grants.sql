-- Grants that cover every object of the schema, applied after all definitions:
--   trellis_admin      everything in schema trellis
--   trellis_scheduler  the scheduler loop's functions and nothing else — no table, no
--                      run control, no definitions (the functions are SECURITY DEFINER)
--   trellis_analyst    only the history views and workflow_stats (granted in sql/050_history)
GRANT USAGE ON SCHEMA trellis TO trellis_admin, trellis_scheduler, trellis_analyst;
GRANT ALL ON ALL TABLES IN SCHEMA trellis TO trellis_admin;
GRANT ALL ON ALL SEQUENCES IN SCHEMA trellis TO trellis_admin;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA trellis TO trellis_admin;
GRANT EXECUTE ON FUNCTION
    trellis.schema_state(),
    trellis.register_scheduler(text, text[], integer, text, integer, text),
    trellis.claim_nodes(bigint, text[], integer, interval),
    trellis.complete_nodes(bigint, jsonb),
    trellis.fail_nodes(bigint, jsonb),
    trellis.report_progress(bigint, jsonb),
    trellis.heartbeat(bigint, bigint[], integer[], interval),
    trellis.reclaim_expired(integer),
    trellis.stop_scheduler(bigint),
    trellis.expire_approvals(integer),
    trellis.fire_due_schedules(integer),
    trellis.apply_retention(bigint, integer),
    trellis.begin_node_artifact(bigint, bigint, integer, text, text),
    trellis.append_node_artifact_chunk(bigint, integer, bytea),
    trellis.finish_node_artifact(bigint, bigint, integer, bigint, text),
    trellis.node_artifact(bigint, bigint, integer, text),
    trellis.read_node_artifact_chunks(bigint, bigint, integer, text, integer, integer)
TO trellis_scheduler;
