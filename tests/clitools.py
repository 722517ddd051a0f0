"""Helpers for tests that run the real `dubkit` command in a child process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def dubkit(*args: object, cache: Path) -> subprocess.CompletedProcess:
    env_args = [sys.executable, "-m", "dubkit", *map(str, args)]
    import os

    env = {**os.environ, "DUBKIT_CACHE_DIR": str(cache)}
    return subprocess.run(env_args, capture_output=True, text=True, env=env, timeout=600)


def summary(done: subprocess.CompletedProcess) -> dict:
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def cache_is_whole(cache: Path) -> bool:
    """No leftover work directories, and every entry's files match its meta.json."""
    leftovers = list((cache / "tmp").iterdir()) if (cache / "tmp").exists() else []
    if leftovers:
        return False
    for meta in cache.glob("*/*/*/meta.json"):
        files = json.loads(meta.read_text())["files"]
        if any((meta.parent / name).stat().st_size != size for name, size in files.items()):
            return False
    return True
