-- The schedules a principal may view.
SELECT trellis.list_schedules($1) AS document
