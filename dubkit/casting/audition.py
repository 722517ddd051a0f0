"""`dubkit voices`: the voice profiles (dubkit/data/voices/*.toml) and, to choose a cast by ear, a sample of each."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

from dubkit import languages
from dubkit.casting.voices import ANY_LANGUAGE, CLONE, Voice
from dubkit.config import Preset
from dubkit.errors import DubkitError
from dubkit.fsutil import atomic_path
from dubkit.stages.base import Backends

log = logging.getLogger(__name__)

SAMPLES = {
    "en": "Hello. This is my voice, and this is how your character will sound.",
    "es": "Hola. Esta es mi voz, y así es como sonará tu personaje.",
    "pt": "Olá. Esta é a minha voz, e é assim que a sua personagem vai soar.",
    "fr": "Bonjour. Voici ma voix, et voici comment votre personnage parlera.",
    "it": "Ciao. Questa è la mia voce, ed è così che suonerà il tuo personaggio.",
    "de": "Hallo. Das ist meine Stimme, und so wird deine Figur klingen.",
}


def listed(voices: Mapping[str, Voice], language: str | None) -> list[Voice]:
    """Profiles by name; with *language*, those that speak it (`*` voices speak any)."""
    found = sorted(voices.values(), key=lambda v: v.name)
    if language is None:
        return found
    target = languages.canonical(language)
    return [v for v in found if v.language == ANY_LANGUAGE or languages.same_language(v.language, target)]


def row(voice: Voice) -> dict[str, str]:
    return {k: getattr(voice, k) for k in ("name", "engine", "language", "gender", "license")}


def audition(voices: Sequence[Voice], language: str | None, outdir: Path, preset: Preset) -> dict[str, str]:
    """Speak a sample sentence with each voice into `OUTDIR/<name>.wav`: name → the file, or why it was skipped."""
    backends = Backends(origin=str(preset.path))
    results: dict[str, str] = {}
    try:
        for voice in voices:
            results[voice.name] = _sample(voice, language, outdir, preset, backends)
    finally:
        backends.close()
    return results


def _sample(voice: Voice, language: str | None, outdir: Path, preset: Preset, backends: Backends) -> str:
    spoken = voice.language if voice.language != ANY_LANGUAGE else language
    if voice.model_voice == CLONE:
        return "skipped: clones each speaker of the original episode"
    if not spoken:
        return "skipped: speaks any language (give --language)"
    text = SAMPLES.get(languages.primary(languages.canonical(spoken)))
    if text is None:
        return f"skipped: no sample sentence in {spoken}"
    out = Path(outdir) / f"{voice.name}.wav"
    try:
        engine = backends.get("tts", voice.engine, preset.synthesize.options.get(voice.engine, {}))
        with atomic_path(out) as tmp:
            engine.synthesize(text, dataclasses.replace(voice, language=languages.canonical(spoken)), tmp)
    except DubkitError as exc:
        return f"skipped: {exc}"
    return str(out)
