"""The batch ledger: what became of each episode × language, in SQLite (WAL) beside the outputs.

An item is `pending`, `running` (claimed by one live process), `done` (its outputs exist and their sha256 match),
`failed` (retried while attempts remain), `quarantined` (failed on its last attempt; left alone until a run with
`--retry-quarantined` requeues it). Claims are taken in one IMMEDIATE
transaction, so two batch processes on one output directory never take the same item; a claim whose process is
gone (kill -9, a crash) is taken over. `events` records every stage an item computed (not reused), the check
that no published stage is ever computed twice.
"""

from __future__ import annotations

import contextlib
import json
import socket
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dubkit.cache import sha256_file
from dubkit.fsutil import process_alive

FILENAME = "ledger.sqlite"
BUSY_S = 60.0  # how long a statement waits for another process's lock
PENDING, RUNNING, DONE, FAILED, QUARANTINED = "pending", "running", "done", "failed", "quarantined"
HOST = socket.gethostname()

SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    episode TEXT NOT NULL, language TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    owner TEXT, error TEXT, seconds REAL, outputs TEXT, stages TEXT, updated REAL NOT NULL,
    PRIMARY KEY (episode, language));
CREATE TABLE IF NOT EXISTS events (
    episode TEXT NOT NULL, language TEXT NOT NULL, stage TEXT NOT NULL, key TEXT NOT NULL,
    seconds REAL NOT NULL, owner TEXT NOT NULL, at REAL NOT NULL);
"""


@dataclass(frozen=True)
class Entry:
    episode: str
    language: str
    status: str
    attempts: int = 0
    owner: str | None = None
    error: str | None = None
    seconds: float | None = None
    outputs: Mapping[str, Mapping[str, str]] | None = None  # name → {"path", "sha256"}
    stages: Mapping[str, Any] | None = None

    @property
    def item(self) -> tuple[str, str]:
        return (self.episode, self.language)


def owner() -> str:
    """`host:pid:start`: this process, told apart from a later one that reuses its pid."""
    import os

    return f"{HOST}:{os.getpid()}:{_start_time(os.getpid())}"


def owner_alive(name: str | None) -> bool:
    """Whether the process that holds a claim still runs. One on another host is taken to (it cannot be seen)."""
    if not name:
        return False
    host, pid, start = name.rsplit(":", 2)
    if host != HOST:
        return True
    return process_alive(int(pid)) and _start_time(int(pid)) == start


def _write_ahead(db: sqlite3.Connection) -> None:
    """Put the ledger in WAL mode. Two batches creating one ledger at the same moment: SQLite answers the second's
    switch "database is locked" at once, without waiting as it does for a write, so it is tried again until the
    busy time runs out."""
    deadline = time.monotonic() + BUSY_S
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


class Ledger:
    def __init__(self, outdir: Path) -> None:
        Path(outdir).mkdir(parents=True, exist_ok=True)
        self.path = Path(outdir) / FILENAME
        self._db = sqlite3.connect(self.path, timeout=BUSY_S, isolation_level=None)
        _write_ahead(self._db)
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)
        self.me = owner()

    def close(self) -> None:
        self._db.close()

    def add(self, items: Iterable[tuple[str, str]]) -> None:
        """Register items not seen before as pending (a re-run keeps what earlier runs recorded)."""
        with self._transaction() as db:
            db.executemany(
                "INSERT OR IGNORE INTO items (episode, language, status, updated) VALUES (?, ?, ?, ?)",
                [(e, lang, PENDING, time.time()) for e, lang in items],
            )

    def entries(self, items: Iterable[tuple[str, str]] | None = None) -> list[Entry]:
        rows = self._db.execute("SELECT * FROM items ORDER BY episode, language").fetchall()
        wanted = set(items) if items is not None else None
        found = [_entry(row) for row in rows]
        return [e for e in found if wanted is None or e.item in wanted]

    def claim(self, items: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
        """Take, of *items* in order, those nobody alive works on and that are not finished; return them."""
        taken = []
        with self._transaction() as db:
            for episode, language in items:
                row = db.execute(
                    "SELECT status, owner FROM items WHERE episode = ? AND language = ?", (episode, language)
                ).fetchone()
                if row is None or not claimable(row[0], row[1]):
                    continue
                db.execute(
                    "UPDATE items SET status = ?, owner = ?, updated = ? WHERE episode = ? AND language = ?",
                    (RUNNING, self.me, time.time(), episode, language),
                )
                taken.append((episode, language))
        return taken

    def requeue(self, items: Iterable[tuple[str, str]]) -> None:
        """Quarantined items pending again, their attempts counted from zero (`--retry-quarantined`): once, at
        the start of a run, so an item that keeps failing is quarantined again instead of tried for ever."""
        with self._transaction() as db:
            for episode, language in items:
                db.execute(
                    "UPDATE items SET status = ?, attempts = 0, updated = ? "
                    "WHERE episode = ? AND language = ? AND status = ?",
                    (PENDING, time.time(), episode, language, QUARANTINED),
                )

    def release(self, items: Iterable[tuple[str, str]]) -> None:
        """Give back claims not finished (Ctrl-C): pending again, no attempt counted."""
        with self._transaction() as db:
            for episode, language in items:
                db.execute(
                    "UPDATE items SET status = ?, owner = NULL, updated = ? "
                    "WHERE episode = ? AND language = ? AND status = ? AND owner = ?",
                    (PENDING, time.time(), episode, language, RUNNING, self.me),
                )

    def mark_done(self, item: tuple[str, str], outputs: Mapping[str, Path], seconds: float, stages: Any) -> None:
        digests = {name: fingerprint(Path(path)) for name, path in outputs.items()}
        self._finish(item, DONE, None, seconds, json.dumps(digests), json.dumps(stages), attempt=True)

    def mark_failed(self, item: tuple[str, str], reason: str, retries: int, seconds: float | None = None) -> str:
        """Record a failed attempt; the item is quarantined once it has failed `retries + 1` times."""
        row = self._db.execute("SELECT attempts FROM items WHERE episode = ? AND language = ?", item).fetchone()
        status = QUARANTINED if (row[0] if row else 0) + 1 > retries else FAILED
        self._finish(item, status, reason, seconds, None, None, attempt=True)
        return status

    def record_stage(self, item: tuple[str, str], stage: str, key: str, seconds: float) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?)", (*item, stage, key, seconds, self.me, time.time())
            )

    def computed(self) -> list[tuple[str, str, str, str]]:
        """(episode, language, stage, key) of every stage computed, in order: a key twice is work done twice."""
        return self._db.execute("SELECT episode, language, stage, key FROM events ORDER BY rowid").fetchall()

    def verify_done(self, items: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        """Items recorded done whose outputs are gone or changed: set pending again and returned."""
        stale = [e.item for e in self.entries(items) if e.status == DONE and not outputs_intact(e.outputs or {})]
        with self._transaction() as db:
            for episode, language in stale:
                db.execute(
                    "UPDATE items SET status = ?, outputs = NULL, updated = ? WHERE episode = ? AND language = ?",
                    (PENDING, time.time(), episode, language),
                )
        return stale

    def held_elsewhere(self, items: Iterable[tuple[str, str]]) -> list[Entry]:
        """Of *items*, those another live process is working on."""
        return [e for e in self.entries(items) if e.status == RUNNING and e.owner != self.me and owner_alive(e.owner)]

    def _finish(self, item, status, error, seconds, outputs, stages, attempt: bool) -> None:  # noqa: ANN001
        with self._transaction() as db:
            db.execute(
                "UPDATE items SET status = ?, error = ?, seconds = ?, outputs = ?, stages = ?, owner = NULL, "
                "attempts = attempts + ?, updated = ? WHERE episode = ? AND language = ?",
                (status, error, seconds, outputs, stages, int(attempt), time.time(), *item),
            )

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")


def fingerprint(path: Path) -> dict[str, str]:
    """What a deliverable is checked against: its sha256 and its stamp (the sizes and modification times)."""
    return {"path": str(path), "sha256": digest(path), "stamp": stamp(path)}


def outputs_intact(outputs: Mapping[str, Mapping[str, str]]) -> bool:
    """Every output as recorded: unchanged stamps are trusted (as make and rsync do), others are re-hashed."""
    return bool(outputs) and all(_intact(Path(o["path"]), o) for o in outputs.values())


def _intact(path: Path, recorded: Mapping[str, str]) -> bool:
    found = stamp(path)
    return bool(found) and (found == recorded.get("stamp") or digest(path) == recorded["sha256"])


def stamp(path: Path) -> str:
    """Size and modification time (ns) of a file, or of each of a folder's files with its name; '' when missing."""
    if path.is_file():
        stat = path.stat()
        return f"{stat.st_size}:{stat.st_mtime_ns}"
    if not path.is_dir():
        return ""
    files = sorted(p for p in path.rglob("*") if p.is_file())
    return ";".join(f"{file.relative_to(path)}={stamp(file)}" for file in files) or "empty"


def digest(path: Path) -> str:
    """sha256 of a file, or of a folder's files (names and contents, in order); '' when it is missing."""
    import hashlib

    if path.is_file():
        return sha256_file(path)
    if not path.is_dir():
        return ""
    combined = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        combined.update(f"{file.relative_to(path)}\0{sha256_file(file)}\n".encode())
    return combined.hexdigest()


def claimable(status: str, holder: str | None) -> bool:
    """Not finished, not quarantined, and not worked on by another live process."""
    if status in (PENDING, FAILED):
        return True
    return status == RUNNING and not owner_alive(holder)


def _entry(row: tuple) -> Entry:
    episode, language, status, attempts, holder, error, seconds, outputs, stages, _ = row
    return Entry(
        episode,
        language,
        status,
        attempts,
        holder,
        error,
        seconds,
        json.loads(outputs) if outputs else None,
        json.loads(stages) if stages else None,
    )


def _start_time(pid: int) -> str:
    """The process's start time in clock ticks since boot ('' where /proc cannot tell)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""
