"""Voice profiles (dubkit/data/voices/*.toml) and the cast: which voice speaks for which speaker."""

from __future__ import annotations

import dataclasses
import tomllib
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from dubkit import languages
from dubkit.data import VOICES_DIR
from dubkit.errors import ConfigError


@dataclass(frozen=True)
class Voice:
    """A voice profile. `engine` picks the TTS backend; `model_voice` is the engine's own voice id."""

    name: str
    engine: str
    language: str
    model_voice: str = ""
    rate: float = 1.0
    pitch: float = 0.0
    gender: str = ""
    license: str = ""
    description: str = ""


ANY_LANGUAGE = "*"
CLONE = "@speaker"  # model_voice of a profile that clones each line's own speaker (`dubkit.casting.references`)


def load_voices(directory: Path = VOICES_DIR) -> dict[str, Voice]:
    """Every profile in *directory* (one TOML file per voice), by name."""
    voices: dict[str, Voice] = {}
    for path in sorted(directory.glob("*.toml")):
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
            voice = Voice(**data)
        except (OSError, tomllib.TOMLDecodeError, TypeError) as exc:
            raise ConfigError(f"{path}: invalid voice profile ({exc})") from None
        voices[voice.name] = voice
    return voices


def parse_cast(items: Iterable[str]) -> dict[str, str]:
    """`S1=es-female-1` items → {speaker: voice name}."""
    cast: dict[str, str] = {}
    for item in items:
        speaker, sep, voice = item.partition("=")
        if not sep or not speaker.strip() or not voice.strip():
            raise ConfigError(f"--cast {item!r}: expected SPEAKER=VOICE")
        cast[speaker.strip()] = voice.strip()
    return cast


def choose(
    segment_voice: str,
    speaker: str,
    target: str,
    cast: Mapping[str, str],
    defaults: Mapping[str, str],
    fallback: str,
    voices: Mapping[str, Voice],
) -> Voice:
    """The voice for one line: the script's choice, else the cast's, else the preset's for the language."""
    name = segment_voice or cast.get(speaker) or defaults.get(target) or defaults.get(languages.primary(target))
    name = name or fallback
    if name not in voices:
        raise ConfigError(f"unknown voice {name!r} (known: {', '.join(sorted(voices))})")
    voice = voices[name]
    if voice.language == ANY_LANGUAGE:
        return dataclasses.replace(voice, language=target)
    if not languages.same_language(voice.language, target):
        raise ConfigError(f"voice {name!r} speaks {voice.language}, not {target}")
    return voice


def castable(target: str, voices: Mapping[str, Voice]) -> list[Voice]:
    """Profiles that speak *target* itself (not `*` voices, not cloning ones), by name."""
    return [
        v
        for v in sorted(voices.values(), key=lambda v: v.name)
        if v.language != ANY_LANGUAGE and v.model_voice != CLONE and languages.same_language(v.language, target)
    ]


def auto_cast(
    speakers: Iterable[tuple[str, str]],
    target: str,
    taken: Mapping[str, str],
    preferred: str,
    voices: Mapping[str, Voice],
) -> dict[str, str]:
    """Voices for (speaker, gender) pairs not yet cast: profiles of *target*, each speaker a voice nobody uses
    yet while there are any (those of its gender first), else the least used one of its gender.

    *preferred* (the preset's voice for the language) comes first among its gender; *taken* (speaker → voice)
    are the voices already cast. Gender `""` (unknown) fits any profile.
    """
    pool = sorted(castable(target, voices), key=lambda v: v.name != preferred)
    uses = Counter(taken.values())
    chosen: dict[str, str] = {}
    for speaker, gender in speakers:
        if not pool:
            break
        pick = min(pool, key=lambda v: (uses[v.name] > 0, bool(gender) and v.gender != gender, uses[v.name]))
        chosen[speaker] = pick.name
        uses[pick.name] += 1
    return chosen
