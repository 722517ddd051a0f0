"""espeak-ng (GPL-3) through espeakng-loader's bundled library and data: 100+ languages, instant, robotic.

The universal fallback. `voice.model_voice` is optional: "" (the language's default voice), a variant
such as "+f3" (female 3) appended to it, or an espeak voice identifier like "roa/pt-BR+m2".
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from dubkit.backends._fingerprint import package_file_identity, package_version
from dubkit.backends._phonemes import (
    espeak_synthesize,
    espeak_voice_for,
    espeak_voices,
    sample_rate,
    to_bcp47,
    write_speech,
)
from dubkit.casting.voices import Voice
from dubkit.errors import ConfigError

log = logging.getLogger(__name__)

_WPM = 175  # espeak-ng's default speaking rate, words per minute
_PITCH = 50  # espeak-ng's default pitch on its 0-100 scale
_PITCH_STEP = 5  # espeak pitch units per unit of Voice.pitch


class EspeakSynthesizer:
    """espeak-ng speech; no options (the library and its data ship in espeakng-loader)."""

    def languages(self) -> list[str]:
        """Every language code in espeak-ng's voice list, as BCP-47 ('pt-BR', 'en-GB-x-rp', 'cmn-Latn-pinyin')."""
        return sorted({to_bcp47(code) for voice in espeak_voices() for code in voice.languages})

    def fingerprint(self) -> dict[str, str]:
        return {
            "library": f"espeakng-loader {package_version('espeakng-loader')}",
            "model": "espeak-ng",
            "weights": package_file_identity("espeakng-loader", "espeakng_loader/libespeak-ng.so.1.52.0"),
        }

    def load(self) -> None:
        """Initialise the shared library (once per process)."""
        sample_rate()

    def close(self) -> None:
        """Nothing to free: the library is shared by the whole process."""

    def synthesize(self, text: str, voice: Voice, out: Path, speed: float = 1.0) -> None:
        """Write trimmed mono 22.05 kHz speech; speed scales words per minute (espeak clamps to 80-450)."""
        identifier = espeak_identifier(voice)
        wpm = round(_WPM * speed * voice.rate)
        pitch = round(_PITCH + _PITCH_STEP * voice.pitch)
        samples = espeak_synthesize(text, identifier, wpm, pitch) if text.strip() else np.zeros(0, np.float32)
        write_speech(out, samples, sample_rate())


def espeak_identifier(voice: Voice) -> str:
    """The espeak voice to use: model_voice as given, else the default voice of voice.language (+ variant)."""
    name, plus, variant = voice.model_voice.partition("+")
    if "/" in name:
        return voice.model_voice
    language = name or voice.language
    if language in ("", "*"):
        raise ConfigError(f"voice {voice.name!r} speaks any language: give it a concrete language first")
    return espeak_voice_for(language) + plus + variant
