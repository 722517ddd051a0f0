"""Atomic file publication: write to a temporary sibling, fsync, rename."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(target: Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path next to *target*; on success it is fsynced and renamed onto *target*.

    On any exception the temporary file is removed and *target* is left untouched.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix or target.suffix, dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        fsync_file(tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomic(target: Path, text: str) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")


def fsync_file(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def copy_tree_atomic(source: Path, target: Path, ignore: tuple[str, ...] = ()) -> Path:
    """Copy the folder *source* to *target*, swapped in whole: readers see the old folder or the new one."""
    import shutil
    import uuid

    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}")
    try:
        shutil.copytree(source, tmp, ignore=shutil.ignore_patterns(*ignore))
        old = target.with_name(f".{target.name}.old.{uuid.uuid4().hex}") if target.exists() else None
        if old is not None:
            os.replace(target, old)
        os.replace(tmp, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target
