-- Pause (false) or resume (true) a schedule.
SELECT trellis.set_schedule_enabled($1, $2, $3) AS document
