"""The dubbing script: the artefact people read and edit. Frozen dataclasses with a sorted-JSON round trip."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dubkit.errors import ConfigError
from dubkit.fsutil import write_text_atomic

SCRIPT_VERSION = 1  # of the file format, written into every script
VERSION = 1  # bump when a change here changes the bytes of a cache entry (see dubkit.cache)


@dataclass(frozen=True)
class Word:
    start_ms: int
    end_ms: int
    text: str
    probability: float = 1.0


@dataclass(frozen=True)
class Version:
    """One way to say a line in the target language, for the dub's timing (`isochrony.py`): `kind` names where
    it came from (`llm:natural`, `llm:shorter`, `llm:shortest`, `mt`, `mt:condensed`); `speech_ms` is how long the
    line's voice takes to say it at its natural rate, once measured (None before synthesis)."""

    text: str
    kind: str
    speech_ms: int | None = None


@dataclass(frozen=True)
class Segment:
    """One spoken line. `id` is stable across edits; times are integer milliseconds in the source. `subtitle`: what
    the subtitles show instead of the translation (a condensed text an editor writes; empty: the translation).
    Where `text` was read from subtitles burned into the source (`dubkit.hardsubs.fusion`): `heard` is what speech
    recognition heard over the same span and `heard_cer` the character error rate between the two (None: the
    text is the recognised speech itself).
    `route`: the engines that translated it, leg by leg, with what a leg passed on to the next as a JSON string
    (`whisper:zh→en "Yes." pivot:en→es`; direct: `apertium:en→es`)."""

    id: str
    start_ms: int
    end_ms: int
    text: str
    speaker: str = "S1"
    translation: str = ""
    subtitle: str = ""
    voice: str = ""
    words: tuple[Word, ...] = ()
    confidence: float | None = None
    heard: str = ""
    heard_cer: float | None = None
    route: str = ""
    versions: tuple[Version, ...] = ()
    pick: str = ""
    choice: str = ""

    @property
    def duration_ms(self) -> int:
        return self.end_ms - self.start_ms

    @property
    def shown(self) -> str:
        """The text the subtitles show: the editor's `subtitle`, else the translation."""
        return self.subtitle or self.translation


@dataclass(frozen=True)
class Transcript:
    """What a transcriber returns: the detected (or forced) language and time-ordered segments."""

    language: str
    segments: tuple[Segment, ...]
    language_probability: float = 1.0


@dataclass(frozen=True)
class Script:
    """`references`: speaker → ids of the lines its voice is cloned from (written by a cloning voice; editable)."""

    source_language: str
    target_language: str
    segments: tuple[Segment, ...]
    speakers: tuple[str, ...] = field(default=())
    references: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def with_segments(self, segments: tuple[Segment, ...]) -> Script:
        speakers = tuple(sorted({s.speaker for s in segments}))
        return dataclasses.replace(self, segments=segments, speakers=speakers)

    def to_json(self) -> str:
        data = {"version": SCRIPT_VERSION, **dataclasses.asdict(self)}
        return json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str, origin: str = "script") -> Script:
        try:
            data = json.loads(text)
            segments = tuple(_segment_from_dict(item) for item in data["segments"])
            script = cls(
                source_language=str(data["source_language"]),
                target_language=str(data["target_language"]),
                segments=segments,
                speakers=tuple(data.get("speakers") or ()),
                references={str(k): tuple(map(str, v)) for k, v in (data.get("references") or {}).items()},
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"{origin}: not a valid dubkit script ({exc.__class__.__name__}: {exc})") from None
        _check_ids(script, origin)
        return script

    def save(self, path: Path) -> None:
        write_text_atomic(Path(path), self.to_json())

    @classmethod
    def load(cls, path: Path) -> Script:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read script ({exc.__class__.__name__})") from None
        return cls.from_json(text, origin=str(path))


def _segment_from_dict(item: dict) -> Segment:
    words = tuple(Word(**w) for w in item.get("words") or ())
    versions = tuple(Version(**v) for v in item.get("versions") or ())
    fields = {k: v for k, v in item.items() if k not in ("words", "versions")}
    segment = Segment(**fields, words=words, versions=versions)
    if not isinstance(segment.start_ms, int) or not isinstance(segment.end_ms, int):
        raise TypeError(f"segment {segment.id}: start_ms and end_ms must be integers")
    if segment.end_ms <= segment.start_ms:
        raise ValueError(f"segment {segment.id}: end_ms must be after start_ms")
    return segment


def _check_ids(script: Script, origin: str) -> None:
    ids = [s.id for s in script.segments]
    if len(ids) != len(set(ids)):
        raise ConfigError(f"{origin}: segment ids must be unique")
