-- Terminates one random scheduler or relay backend (not this session): a chaos fault.
SELECT count(pg_terminate_backend(pid)) AS terminated FROM (
    SELECT pid FROM pg_stat_activity
    WHERE pid <> pg_backend_pid() AND (application_name LIKE 'trellis-scheduler%' OR application_name LIKE 'trellis-relay%')
    ORDER BY random() LIMIT 1
) victim
