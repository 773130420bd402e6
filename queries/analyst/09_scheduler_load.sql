-- How is work spread over scheduler instances, and which lost leases?
SELECT name, hostname, alive, attempts, succeeded, failed, timed_out, lost, running, busy_ms
FROM trellis.scheduler_stats
WHERE started_at > now() - interval '7 days'
ORDER BY attempts DESC;
