SELECT runs, node_runs, attempts, events, approvals, cutoff FROM trellis.prune_runs($1, $2::integer, $3)
