"""Where a batch's items run: `local.py` in worker processes on this machine, `ray.py` on a Ray cluster (the only
module that imports ray). Each takes items, settings and a `Tracker` (`dubkit.batch.items`) and reports every
stage and outcome to it; only the driver's process writes the ledger.
"""
