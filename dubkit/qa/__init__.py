"""Quality checks: recognition error rates, sync metrics, side-by-side renders, reports."""
