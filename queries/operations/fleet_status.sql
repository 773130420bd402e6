SELECT trellis.fleet_status($1, make_interval(secs => $2::double precision)) AS status
