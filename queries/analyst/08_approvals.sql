-- Who decides approvals, how often do they approve, and how long do requests wait?
SELECT coalesce(decided_by, '(expired)') AS decided_by, count(*) AS decisions,
       count(*) FILTER (WHERE status = 'approved') AS approved,
       count(*) FILTER (WHERE status = 'rejected') AS rejected,
       round(avg(waited_ms) / 1000.0, 1) AS avg_wait_s
FROM trellis.approval_history
WHERE status <> 'pending' AND requested_at > now() - interval '30 days'
GROUP BY 1
ORDER BY decisions DESC;
