"""A series cast file: the voice of each speaker per target language, kept across episodes.

```toml
[es]
S1 = "es-male-1"
S2 = "es-female-1"
```

Beside it, `<name>.voiceprints.json` holds each cast speaker's voice (mean speaker embedding, median F0), so a
new episode's speakers are recognised by voice (`dubkit.casting.speakers.match`) before they are cast. Speakers the file
lacks are cast automatically and written back, under a lock and atomically, so the next episode reuses them.
"""

from __future__ import annotations

import contextlib
import json
import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dubkit import languages
from dubkit.casting import speakers
from dubkit.casting.speakers import Voiceprint
from dubkit.errors import ConfigError
from dubkit.fsutil import write_text_atomic

PRINTS_VERSION = 1
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
HEADER = (
    "# dubkit cast: speaker = voice profile (voices/*.toml), one table per target language.\n"
    "# Speakers not listed are cast automatically and added here; their voices are in {prints}.\n"
)


@dataclass(frozen=True)
class Cast:
    """`voices`: language → speaker → profile name; `prints`: speaker → voiceprint, from encoder `encoder`."""

    path: Path
    voices: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    prints: Mapping[str, Voiceprint] = field(default_factory=dict)
    encoder: str = ""

    def for_language(self, target: str) -> dict[str, str]:
        """Speaker → voice for *target*: its own table, else one of the same language (`pt` for `pt-BR`)."""
        target = languages.canonical(target)
        if target in self.voices:
            return dict(self.voices[target])
        same = [lang for lang in sorted(self.voices) if languages.same_language(lang, target)]
        return dict(self.voices[same[0]]) if same else {}

    def with_voices(self, target: str, added: Mapping[str, str]) -> Cast:
        """Speakers of *added* the file lacks for *target* joined to its table (a listed speaker keeps its voice)."""
        target = languages.canonical(target)
        table = {**added, **self.voices.get(target, {})}
        return Cast(self.path, {**self.voices, target: table}, self.prints, self.encoder)

    def with_prints(self, added: Mapping[str, Voiceprint], encoder: str) -> Cast:
        return Cast(self.path, self.voices, {**added, **self.prints}, self.encoder or encoder)


def prints_path(path: Path) -> Path:
    return path.with_name(f"{path.stem}.voiceprints.json")


def load(path: Path) -> Cast:
    """The cast in *path* (TOML) and its voiceprints; a file that does not exist yet is an empty cast."""
    path = Path(path)
    voices = _read_voices(path) if path.exists() else {}
    prints, encoder = _read_prints(prints_path(path))
    return Cast(path, voices, prints, encoder)


def save(cast: Cast) -> None:
    """Write the TOML and the voiceprints, each atomically (voiceprints first: a cast never names unknown voices)."""
    data = {
        "version": PRINTS_VERSION,
        "encoder": cast.encoder,
        "speakers": speakers.prints_to_json(cast.prints),
    }
    write_text_atomic(prints_path(cast.path), json.dumps(data, indent=1, sort_keys=True) + "\n")
    write_text_atomic(cast.path, to_toml(cast))


def to_toml(cast: Cast) -> str:
    parts = [HEADER.format(prints=prints_path(cast.path).name)]
    for lang in sorted(cast.voices):
        parts.append(f"\n[{_key(lang)}]\n")
        parts.extend(f"{_key(s)} = {json.dumps(v, ensure_ascii=False)}\n" for s, v in cast.voices[lang].items())
    return "".join(parts)


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Exclusive use of a cast file while it is read, completed and written (episodes dubbed side by side)."""
    import fcntl

    lock = Path(path).with_name(f".{Path(path).name}.lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _read_voices(path: Path) -> dict[str, dict[str, str]]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read cast file ({exc})") from None
    voices: dict[str, dict[str, str]] = {}
    for lang, table in data.items():
        if not isinstance(table, dict) or not all(isinstance(v, str) for v in table.values()):
            raise ConfigError(f'{path}: [{lang}] must be a table of SPEAKER = "voice" lines')
        try:
            voices[languages.canonical(lang)] = dict(table)
        except ConfigError as exc:
            raise ConfigError(f"{path}: [{lang}]: {exc}") from None
    return voices


def _read_prints(path: Path) -> tuple[dict[str, Voiceprint], str]:
    if not path.exists():
        return {}, ""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        prints = speakers.prints_from_json(data["speakers"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(f"{path}: not a dubkit voiceprints file ({exc.__class__.__name__}: {exc})") from None
    return prints, str(data.get("encoder", ""))


def _key(name: str) -> str:
    return name if _BARE_KEY.match(name) else json.dumps(name, ensure_ascii=False)
