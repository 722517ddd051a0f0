"""`dubkit batch`'s driver: every episode of a catalog into every language, crash-safe, here or on a Ray cluster.

The catalog (`catalog.py`) gives the items, one per episode × language. The ledger (`ledger.py`, SQLite beside
the outputs) says which are done, which failed how often, and which a live process is working on. An executor
(`dubkit.batch.executors.local` / `.ray`) dubs the items it claims stage-major and reports each stage and each outcome
to a `Tracker`, which writes them into the ledger. Every stage is cached, so work cut short by a crash or Ctrl-C
is redone only from the stage it was in. `batch.json` and `batch.html` (`report.py`) sum it up.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dubkit.batch import ledger as ledgers
from dubkit.batch import report
from dubkit.batch.catalog import Catalog
from dubkit.batch.catalog import load as load_catalog
from dubkit.batch.items import Item, Progress, Settings, Tracker, request
from dubkit.cache import Cache
from dubkit.errors import BackendUnavailable, ConfigError
from dubkit.fsutil import sweep_stale

log = logging.getLogger(__name__)
EXECUTORS = ("local", "ray")


def run(
    catalog_path: Path,
    languages: Sequence[str],
    settings: Settings,
    *,
    executor: str = "local",
    allow_outside: bool = False,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Dub what the ledger does not have yet; write `batch.json` / `batch.html` into the output directory (also
    when interrupted) and return the report."""
    if executor not in EXECUTORS:
        raise ConfigError(f"--executor {executor!r}: expected one of {', '.join(EXECUTORS)}")
    settings = settings.absolute()
    catalog = load_catalog(catalog_path, tuple(languages), allow_outside)
    items = [Item(row, language) for row in catalog.rows for language in row.languages]
    ledger = ledgers.Ledger(settings.outdir)
    tracker = Tracker(ledger, items, settings.retries, progress)
    try:
        _sweep(settings, catalog)
        ledger.add(it.key for it in items)
        ledger.verify_done(it.key for it in items)
        if settings.retry_quarantined:
            ledger.requeue(it.key for it in items)
        _executor(executor).run(items, settings, tracker)
    finally:
        _sweep(settings, catalog)  # what workers killed during this run left
        found = report.build(catalog, items, ledger.entries(it.key for it in items), settings.outdir)
        report.write(found, settings.outdir)
        ledger.close()
    return found


def plan(catalog_path: Path, languages: Sequence[str], settings: Settings, allow_outside: bool = False) -> dict:
    """`--dry-run`: per episode × language × stage, whether the cache has it ('hit'), would compute it ('miss')
    or the stage has nothing to do ('skipped'); nothing runs, nothing is written."""
    from dubkit.runner import plan as plan_stages

    catalog = load_catalog(catalog_path, tuple(languages), allow_outside)
    cache = Cache(settings.cache_root)
    rows = []
    for row in catalog.rows:
        for language in row.languages:
            item = Item(row, language)
            try:
                stages: dict[str, str] | str = plan_stages(request(item, settings), cache)
            except Exception as exc:  # noqa: BLE001 - a row that cannot be planned is listed with its reason
                from dubkit.errors import describe

                stages = f"invalid: {describe(exc)}"
            rows.append({"episode": row.episode, "language": language, "stages": stages})
    return {"items": rows, "invalid": [dataclasses.asdict(i) for i in catalog.invalid]}


def _sweep(settings: Settings, catalog: Catalog) -> None:
    """Temporaries that killed runs left in the cache and the episodes' output folders."""
    removed = Cache(settings.cache_root).sweep()
    for row in catalog.rows:
        removed += sweep_stale(settings.outdir / row.episode)
    if removed:
        log.info("removed %d temporaries left by interrupted runs", removed)


def _executor(name: str):  # noqa: ANN202 - a module with run(items, settings, tracker)
    if name == "ray":
        try:
            from dubkit.batch.executors import ray
        except ImportError as exc:
            raise BackendUnavailable("ray", f"cannot import it ({exc})", "pip install 'dubkit[ray]'") from None
        return ray
    from dubkit.batch.executors import local

    return local
