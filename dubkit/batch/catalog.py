"""A catalog: the episodes of a batch, one row each, from CSV or JSONL.

Columns / keys: `media` (required), `episode` (id; default: the media file's stem), `series`, `languages`
(`es;pt-BR`, or a JSON list), `source` (source language), `cast` (cast file), `glossary`, `pipeline` (a preset
name or TOML path). Paths are relative to the catalog's folder and may not leave it (a symlink out counts) unless
`allow_outside`. A bad row does not stop the others: it comes back as an `Invalid` with the reason.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dubkit import languages
from dubkit.errors import ConfigError

COLUMNS = ("media", "episode", "series", "languages", "source", "cast", "glossary", "pipeline")
EPISODE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")  # becomes a folder name under the output directory
BUILTIN_PRESETS = re.compile(r"[a-z][a-z0-9_-]*")  # `pipeline = default`: a preset of dubkit's own, not a path


@dataclass(frozen=True)
class Row:
    episode: str
    media: Path
    languages: tuple[str, ...]
    series: str = ""
    source: str | None = None
    cast_file: Path | None = None
    glossary: Path | None = None
    pipeline: str | None = None


@dataclass(frozen=True)
class Invalid:
    """Row `line` (1-based, the header is line 1 of a CSV) that cannot be dubbed, and why."""

    line: int
    episode: str
    reason: str


@dataclass(frozen=True)
class Catalog:
    path: Path
    rows: tuple[Row, ...]
    invalid: tuple[Invalid, ...] = ()


def load(path: Path, default_languages: tuple[str, ...] = (), allow_outside: bool = False) -> Catalog:
    """Read *path* (`.csv`, `.jsonl`/`.ndjson`); a file that cannot be read at all is a ConfigError."""
    path = Path(path)
    root = path.resolve().parent
    rows: list[Row] = []
    invalid: list[Invalid] = []
    seen: set[str] = set()
    for line, record in _records(path):
        try:
            row = _row(record, root, default_languages, allow_outside)
            if row.episode in seen:
                raise ConfigError(f"episode id {row.episode!r} appears twice")
            seen.add(row.episode)
            rows.append(row)
        except ConfigError as exc:
            invalid.append(Invalid(line, str(record.get("episode") or record.get("media") or ""), str(exc)))
    return Catalog(path, tuple(rows), tuple(invalid))


def _records(path: Path) -> Iterator[tuple[int, Mapping[str, Any]]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the catalog ({getattr(exc, 'strerror', None) or exc})") from None
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(text.splitlines())
        if "media" not in (reader.fieldnames or ()):
            raise ConfigError(f"{path}: a catalog needs a 'media' column (columns: {', '.join(COLUMNS)})")
        for number, record in enumerate(reader, start=2):
            yield number, {k.strip(): (v or "").strip() for k, v in record.items() if k}
    elif path.suffix.lower() in {".jsonl", ".ndjson"}:
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                yield number, _json_record(path, number, line)
    else:
        raise ConfigError(f"{path}: a catalog is .csv or .jsonl")


def _json_record(path: Path, number: int, line: str) -> Mapping[str, Any]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        return {"_error": f"line {number} is not JSON ({exc.msg})"}
    return record if isinstance(record, dict) else {"_error": f"line {number} is not a JSON object"}


def _row(record: Mapping[str, Any], root: Path, default_languages: tuple[str, ...], allow_outside: bool) -> Row:
    if "_error" in record:
        raise ConfigError(record["_error"])
    unknown = sorted(set(record) - set(COLUMNS))
    if unknown:
        raise ConfigError(f"unknown column(s) {', '.join(unknown)} (expected {', '.join(COLUMNS)})")
    if not record.get("media"):
        raise ConfigError("no media path")
    media = _inside(root, str(record["media"]), "media", allow_outside)
    episode = str(record.get("episode") or media.stem)
    if not EPISODE_ID.fullmatch(episode):
        raise ConfigError(f"episode id {episode!r}: letters, digits, '.', '_' and '-' only (it names a folder)")
    targets = _languages(record.get("languages")) or default_languages
    if not targets:
        raise ConfigError(f"{episode}: no target language (give --to or a 'languages' column)")
    source = str(record.get("source") or "") or None
    for code in (*targets, *([source] if source else [])):
        languages.canonical(code)
    return Row(
        episode=episode,
        media=media,
        languages=tuple(dict.fromkeys(languages.canonical(code) for code in targets)),
        series=str(record.get("series") or ""),
        source=source,
        cast_file=_optional_path(root, record.get("cast"), "cast", allow_outside),
        glossary=_optional_path(root, record.get("glossary"), "glossary", allow_outside),
        pipeline=_pipeline(root, record.get("pipeline"), allow_outside),
    )


def _languages(value: Any) -> tuple[str, ...]:
    if not value:
        return ()
    parts = value if isinstance(value, list) else re.split(r"[;,\s|]+", str(value))
    return tuple(str(part).strip() for part in parts if str(part).strip())


def _inside(root: Path, value: str, column: str, allow_outside: bool) -> Path:
    """*value* resolved against the catalog's folder (symlinks followed); one that leaves it is refused."""
    if "\0" in value:
        raise ConfigError(f"{column} path contains a NUL byte")
    path = (root / Path(value).expanduser()).resolve()
    if not allow_outside and not path.is_relative_to(root):
        raise ConfigError(f"{column} path {value!r} leaves the catalog's folder {root} (--allow-outside allows it)")
    return path


def _optional_path(root: Path, value: Any, column: str, allow_outside: bool) -> Path | None:
    return _inside(root, str(value), column, allow_outside) if value else None


def _pipeline(root: Path, value: Any, allow_outside: bool) -> str | None:
    if not value:
        return None
    if BUILTIN_PRESETS.fullmatch(str(value)):
        return str(value)
    return str(_inside(root, str(value), "pipeline", allow_outside))
