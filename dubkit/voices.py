"""Voice profiles (voices/*.toml) and the cast: which voice speaks for which speaker."""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from dubkit import languages
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


VOICES_DIR = Path(__file__).resolve().parent.parent / "voices"
ANY_LANGUAGE = "*"


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
