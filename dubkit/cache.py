"""Content-addressed stage cache.

key = sha256(canonical JSON {version, stage, backend fingerprint, options, inputs}).
An entry is a directory ``<root>/<stage>/<key[:2]>/<key>/`` holding the stage's files and ``meta.json``
(the key's preimage plus the size of every file). Entries are built in ``<root>/tmp/<uuid>/`` and
published with one ``os.replace``; a racing writer's copy is dropped; a corrupt entry is removed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dubkit.fsutil import fsync_file, owner_tag, sweep_stale, write_text_atomic

CACHE_VERSION = 1
log = logging.getLogger(__name__)


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
        self, stage: str, fingerprint: Mapping[str, Any], options: Mapping[str, Any], inputs: Mapping[str, Any]
    ) -> Key:
        preimage = {
            "version": CACHE_VERSION,
            "stage": stage,
            "fingerprint": fingerprint,
            "options": options,
            "inputs": inputs,
        }
        digest = hashlib.sha256(canonical_json(preimage).encode()).hexdigest()
        return Key(stage, digest, json.loads(canonical_json(preimage)))

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
