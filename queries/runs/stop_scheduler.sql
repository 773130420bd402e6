SELECT trellis.stop_scheduler($1::bigint) AS released
