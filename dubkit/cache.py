"""Content-addressed stage cache.

key = sha256(canonical JSON {version, stage, code, backend fingerprint, options, inputs}).
An entry is a directory ``<root>/<stage>/<key[:2]>/<key>/`` holding the stage's files and ``meta.json``
(the key's preimage plus the size of every file). `Cache.entry(key, build)` is the one step every stage takes:
an existing whole entry is reused; otherwise ``build(work)`` writes the entry's files into ``<root>/tmp/<uuid>/``,
which is published with one ``os.replace``. A racing writer's copy is dropped; a corrupt entry is removed and
rebuilt; a build that fails leaves nothing. `Cache.entries` does the same for many keys built by one producer.

Code identity: every module whose code decides the bytes of a cache entry declares ``VERSION = <int>``, and each
key names those modules (``code=``: module name → VERSION in the preimage). Bump a module's VERSION when a change
to it changes the bytes it writes, or makes, for an entry: a key made with the old number then misses and the
entry is rebuilt. A change that leaves every byte as it was (a refactor, a faster way to the same result) keeps
the number. Backends identify their own code, model and library in ``fingerprint()``; options hold what a preset
or a caller chooses, never a version string or a sentence about what changed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import uuid
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

from dubkit.fsutil import fsync_file, owner_tag, sweep_stale, write_text_atomic

CACHE_VERSION = 1
log = logging.getLogger(__name__)
Build = Callable[[Path], object]  # writes an entry's files into the work directory it is given
Item = TypeVar("Item", bound=Hashable)


@dataclass(frozen=True)
class Key:
    stage: str
    digest: str
    preimage: Mapping[str, Any]


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def default_root() -> Path:
    env = os.environ.get("DUBKIT_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "dubkit"


class Cache:
    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root else default_root()

    def key(
        self,
        stage: str,
        fingerprint: Mapping[str, Any],
        options: Mapping[str, Any],
        inputs: Mapping[str, Any],
        *,
        code: Iterable[ModuleType],
    ) -> Key:
        """The key of *stage*'s entry: *code* are the modules whose VERSION stands for the code that makes it."""
        preimage = {
            "version": CACHE_VERSION,
            "stage": stage,
            "code": code_identity(code),
            "fingerprint": fingerprint,
            "options": options,
            "inputs": inputs,
        }
        digest = hashlib.sha256(canonical_json(preimage).encode()).hexdigest()
        return Key(stage, digest, json.loads(canonical_json(preimage)))

    def entry(self, key: Key, build: Build) -> tuple[Path, bool]:
        """The entry of *key* and whether it was there already; a missing one is built by *build* and published."""
        found = self.lookup(key)
        if found is not None:
            return found, True
        with self.publish(key) as work:
            build(work)
        return self.path(key), False

    def entries(
        self, keys: Mapping[Item, Key], build: Callable[[list[Item]], Iterable[Build]]
    ) -> dict[Item, tuple[Path, bool]]:
        """`entry` for many keys made by one producer (a decoder shared by the video spans it re-renders).

        ``build(missing)`` gets the items whose entry is missing, in order, and yields one `Build` per item, in
        the same order; each is taken and run only once its work directory is open, and published on its own."""
        missing = [item for item, key in keys.items() if self.lookup(key) is None]
        if missing:
            builds = iter(build(missing))
            for item in missing:
                with self.publish(keys[item]) as work:
                    next(builds)(work)
        built = set(missing)
        return {item: (self.path(key), item not in built) for item, key in keys.items()}

    def path(self, key: Key) -> Path:
        return self.root / key.stage / key.digest[:2] / key.digest

    def lookup(self, key: Key) -> Path | None:
        """The entry's directory if it exists and is whole; a corrupt entry is removed (so it is recomputed)."""
        entry = self.path(key)
        if not entry.is_dir():
            return None
        if _is_whole(entry):
            return entry
        log.warning("removing corrupt cache entry %s", entry)
        self._discard(entry)
        return None

    @contextlib.contextmanager
    def publish(self, key: Key) -> Iterator[Path]:
        """Yield an empty work directory; on success it becomes the entry for *key* (atomically)."""
        work = self.root / "tmp" / f"{owner_tag()}.{uuid.uuid4().hex}"
        work.mkdir(parents=True)
        try:
            yield work
            _write_meta(work, key)
            final = self.path(key)
            final.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.replace(work, final)
            except OSError:
                if self.lookup(key) is None:  # not a racing writer's whole copy: a real failure
                    raise
                log.debug("entry %s already published by another writer", key.digest[:12])
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def meta(self, entry: Path) -> dict[str, Any]:
        return json.loads((entry / "meta.json").read_text(encoding="utf-8"))

    def file_digest(self, path: Path) -> str:
        """sha256 of a source file, memoized by (path, size, mtime) so unchanged files are hashed once."""
        stat = path.stat()
        memo = self.root / "files" / hashlib.sha256(str(path.resolve()).encode()).hexdigest()
        stamp = f"{stat.st_size}:{stat.st_mtime_ns}"
        with contextlib.suppress(OSError, ValueError, KeyError):
            data = json.loads(memo.read_text(encoding="utf-8"))
            if data["stamp"] == stamp:
                return str(data["sha256"])
        digest = sha256_file(path)
        with contextlib.suppress(OSError):
            write_text_atomic(memo, json.dumps({"path": str(path.resolve()), "stamp": stamp, "sha256": digest}))
        return digest

    def stats(self) -> dict[str, dict[str, int]]:
        """Entries and bytes per stage."""
        out: dict[str, dict[str, int]] = {}
        for stage_dir in sorted(p for p in self.root.glob("*") if p.is_dir() and p.name not in {"tmp", "files"}):
            entries = [e for e in stage_dir.glob("*/*") if e.is_dir()]
            size = sum(f.stat().st_size for e in entries for f in e.rglob("*") if f.is_file())
            out[stage_dir.name] = {"entries": len(entries), "bytes": size}
        return out

    def sweep(self) -> int:
        """Remove work folders and temporaries that killed processes of this host left behind; count them."""
        return sweep_stale(self.root / "tmp") + sweep_stale(self.root / "files")

    def _discard(self, entry: Path) -> None:
        trash = self.root / "tmp" / f"trash.{owner_tag()}.{uuid.uuid4().hex}"
        trash.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError):
            os.replace(entry, trash)
        shutil.rmtree(trash, ignore_errors=True)


def code_identity(modules: Iterable[ModuleType]) -> dict[str, int]:
    """Module name → VERSION, for a key's preimage; a module without an int VERSION cannot stand for code."""
    identity = {}
    for module in modules:
        version = getattr(module, "VERSION", None)
        if type(version) is not int:
            raise TypeError(f"{module.__name__} declares no int VERSION: it cannot enter a cache key")
        identity[module.__name__] = version
    return identity


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_meta(work: Path, key: Key) -> None:
    files = {str(p.relative_to(work)): p.stat().st_size for p in sorted(work.rglob("*")) if p.is_file()}
    for name in files:
        fsync_file(work / name)
    meta = {"key": key.digest, "preimage": key.preimage, "files": files}
    (work / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True), encoding="utf-8")
    fsync_file(work / "meta.json")


def _is_whole(entry: Path) -> bool:
    try:
        files = json.loads((entry / "meta.json").read_text(encoding="utf-8"))["files"]
        return all((entry / name).stat().st_size == size for name, size in files.items())
    except (OSError, ValueError, KeyError, TypeError):
        return False
