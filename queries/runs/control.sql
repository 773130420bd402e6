-- $1: cancel | pause | resume
SELECT CASE $1
    WHEN 'cancel' THEN trellis.cancel_run($2::uuid, $3, $4)
    WHEN 'pause' THEN trellis.pause_run($2::uuid, $3, $4)
    WHEN 'resume' THEN trellis.resume_run($2::uuid, $3, $4)
END AS status
