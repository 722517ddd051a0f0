"""Helpers for tests that run the real `dubkit` command in a child process."""

from __future__ import annotations

import csv
import io
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


def edit_subtitle(path: Path, format_: str, line: str, subtitle: str) -> None:
    """Set *line*'s subtitle in an exported json or csv as an editor would: in its own field or column."""
    if format_ == "json":
        data = json.loads(path.read_text(encoding="utf-8"))
        next(s for s in data["segments"] if s["id"] == line)["subtitle"] = subtitle
        path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
        return
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))
    next(row for row in rows if row["id"] == line)["subtitle"] = subtitle
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8")
