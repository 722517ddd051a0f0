"""The batch's unit of work and what tracks it: an `Item` (one episode into one language), the `Settings` every item
shares, the runner's `request` for an item, and the `Tracker` that claims items and records their outcomes in the
ledger. Executors (`executors/`) and the driver (`driver.py`) both build on this module, never on each other.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dubkit.batch import ledger as ledgers
from dubkit.batch.catalog import Row
from dubkit.options import EpisodeOptions

if TYPE_CHECKING:
    from dubkit import runner

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Item:
    """One episode of the catalog into one language."""

    row: Row
    language: str

    @property
    def key(self) -> tuple[str, str]:
        return (self.row.episode, self.language)

    def to_dict(self) -> dict[str, Any]:
        row = {k: str(v) if isinstance(v, Path) else v for k, v in dataclasses.asdict(self.row).items()}
        return {"row": row, "language": self.language}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Item:
        row = dict(data["row"])
        for name in ("media", "cast_file", "glossary"):
            row[name] = Path(row[name]) if row.get(name) else None
        return cls(Row(**{**row, "languages": tuple(row["languages"])}), str(data["language"]))


@dataclass(frozen=True)
class Settings:
    """What every item of a batch shares: where it writes, the cache, how each episode is dubbed (`episode`, where
    the item's row does not say otherwise), and how the batch runs."""

    outdir: Path
    cache_root: Path
    episode: EpisodeOptions = EpisodeOptions()
    workers: int = 1
    retries: int = 1
    retry_quarantined: bool = False
    ray_address: str | None = None

    def to_dict(self) -> dict[str, Any]:
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        plain = {k: str(v) if isinstance(v, Path) else v for k, v in values.items()}
        return plain | {"episode": self.episode.to_dict()}

    def absolute(self) -> Settings:
        """Paths that mean the same in a worker started elsewhere (a Ray node has its own working directory)."""
        return dataclasses.replace(
            self, outdir=self.outdir.resolve(), cache_root=self.cache_root.resolve(), episode=self.episode.absolute()
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Settings:
        paths = {"outdir": Path(data["outdir"]), "cache_root": Path(data["cache_root"])}
        return cls(**{**data, **paths, "episode": EpisodeOptions.from_dict(data["episode"])})


def request(item: Item, settings: Settings) -> runner.Request:
    """The runner's request for *item*: its episode and preset as the batch's episode options say, with the row's
    own source, pipeline, cast file and glossary in their place where it gives them; its output folder."""
    from dubkit.runner import Request  # imported late: it loads the stages

    row = item.row
    options = settings.episode.overridden(
        source=row.source, pipeline=row.pipeline, cast_file=row.cast_file, glossary=row.glossary
    )
    return Request(options.episode(row.media, item.language), options.preset(), settings.outdir / row.episode)


Progress = Callable[["Tracker"], None]


@dataclass
class Tracker:
    """Claims items for this process and records what becomes of them, in the ledger and for the progress bar."""

    ledger: ledgers.Ledger
    items: Sequence[Item]
    retries: int
    progress: Progress | None = None
    current: dict[tuple[str, str], str] = field(default_factory=dict)  # item → the stage it is in

    def claim(self, episodes: int | None = None, exclude: set[tuple[str, str]] | None = None) -> list[Item]:
        """Claim the open items of up to *episodes* episodes (all languages of an episode together, so its
        transcription is done once), skipping *exclude* (in flight here)."""
        exclude = exclude or set()
        open_ = {e.item for e in self.ledger.entries(it.key for it in self.items) if is_open(e)}
        wanted = [it for it in self.items if it.key in open_ and it.key not in exclude]
        chosen = list(dict.fromkeys(it.row.episode for it in wanted))[: episodes or None]
        candidates = [it for it in wanted if it.row.episode in chosen]
        taken = set(self.ledger.claim([it.key for it in candidates]))
        return [it for it in candidates if it.key in taken]

    def open_episodes(self) -> int:
        entries = self.ledger.entries(it.key for it in self.items)
        return len({e.episode for e in entries if is_open(e)})

    def held_elsewhere(self) -> bool:
        return bool(self.ledger.held_elsewhere(it.key for it in self.items))

    def stage(self, item: Item, stage: str, cached: bool, key: str, seconds: float) -> None:
        if not cached:
            self.ledger.record_stage(item.key, stage, key, seconds)
        self.current[item.key] = stage
        self._show()

    def done(self, item: Item, outputs: Mapping[str, Path], seconds: float, stages: Any) -> None:
        self.ledger.mark_done(item.key, outputs, seconds, stages)
        self.current.pop(item.key, None)
        self._show()

    def failed(self, item: Item, reason: str, permanent: bool = False) -> None:
        """A failed try; a permanent failure (bad input: trying again cannot help) is quarantined at once."""
        status = self.ledger.mark_failed(item.key, reason, 0 if permanent else self.retries)
        log.info("%s %s: %s (%s)", item.row.episode, item.language, reason, status)
        self.current.pop(item.key, None)
        self._show()

    def release(self, items: Sequence[Item]) -> None:
        self.ledger.release(it.key for it in items)

    def counts(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for entry in self.ledger.entries(it.key for it in self.items):
            found[entry.status] = found.get(entry.status, 0) + 1
        return found

    def _show(self) -> None:
        if self.progress:
            self.progress(self)


def is_open(entry: ledgers.Entry) -> bool:
    return ledgers.claimable(entry.status, entry.owner)
