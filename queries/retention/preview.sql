SELECT runs, node_runs, attempts, events, approvals, cutoff FROM trellis.prune_preview($1, $2)
