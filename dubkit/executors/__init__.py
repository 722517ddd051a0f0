"""Where a batch runs: `local` (worker processes on this machine) or `ray` (a Ray cluster)."""
