"""Atomic file publication: write to a temporary sibling, fsync, rename."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import socket
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(target: Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path next to *target*; on success it is fsynced and renamed onto *target*.

    On any exception the temporary file is removed and *target* is left untouched.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{target.name}.{owner_tag()}.", suffix=suffix or target.suffix, dir=target.parent
    )
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
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{owner_tag()}.{uuid.uuid4().hex}")
    try:
        shutil.copytree(source, tmp, ignore=shutil.ignore_patterns(*ignore))
        old = target.with_name(f".{target.name}.old.{owner_tag()}.{uuid.uuid4().hex}") if target.exists() else None
        if old is not None:
            os.replace(target, old)
        os.replace(tmp, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


# Every temporary file or folder carries its writer's process id and host: one left behind by a killed process
# (kill -9, power cut) can be told from one a live process is still writing, and swept.
_HOST = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]
_TAG = re.compile(r"tmp(\d+)x([0-9a-f]{8})")


def owner_tag() -> str:
    """`tmp<pid>x<host hash>`: this process, in the names of the temporaries it writes."""
    return f"tmp{os.getpid()}x{_HOST}"


def sweep_stale(folder: Path) -> int:
    """Remove the temporaries in *folder* (not below) whose writer, a process on this host, is gone; count them.
    A temporary of another host, or of a live process, is left alone."""
    removed = 0
    with contextlib.suppress(FileNotFoundError):
        for entry in Path(folder).iterdir():
            match = _TAG.search(entry.name)
            if match is None or match[2] != _HOST or process_alive(int(match[1])):
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
            removed += 1
    return removed


def process_alive(pid: int) -> bool:
    """Whether process *pid* exists on this host (a zombie counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    return True
