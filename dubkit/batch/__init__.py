"""`dubkit batch`: every episode of a catalog into every language, crash-safe, on one machine or a Ray cluster.

`catalog.py` reads the catalog into rows; `items.py` holds the unit of work (`Item`: one episode × language), the
shared `Settings` and the `Tracker` that claims items and records outcomes in the ledger (`ledger.py`, SQLite beside
the outputs); `driver.py` runs a batch (or plans it, for `--dry-run`) with an executor from `executors/` (`local`:
worker processes; `ray`: a Ray cluster, the only module that imports ray); `report.py` writes `batch.json` and
`batch.html`.
"""
