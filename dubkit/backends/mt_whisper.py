"""Translate backend: Whisper's speech translation (any Whisper language → English), line by line from the audio.

The speech is heard by the faster-whisper transcriber (`asr/faster-whisper`, created through the registry) with its
task set to translate."""

from __future__ import annotations

import logging
from typing import Any

from dubkit.backends import registry
from dubkit.backends._whisper import SAMPLE_RATE, WHISPER_LANGUAGES, bcp47_language, load_audio, whisper_language
from dubkit.backends.base import TranslationRequest
from dubkit.errors import ConfigError

log = logging.getLogger(__name__)

PAD_MS = 200


class WhisperSpeechTranslator:
    """Translates each line by cutting its span out of the source audio and running Whisper `task="translate"`.

    The source text is not used: Whisper hears the speech. One model serves every line.
    """

    def __init__(self, model: str = "embedded:base", beam_size: int = 5) -> None:
        options = {"model": model, "beam_size": beam_size, "vad": False}
        self._asr: Any = registry.create("asr", "faster-whisper", options, "mt/whisper")

    def fingerprint(self) -> dict[str, str]:
        return {**self._asr.fingerprint(), "task": "translate"}

    def load(self) -> None:
        self._asr.load()

    def close(self) -> None:
        self._asr.close()

    def supports(self, source: str, target: str) -> bool:
        if self._asr.english_only or _primary(target) != "en":
            return False
        try:
            return whisper_language(source) != "en"
        except ConfigError:
            return False

    def pairs(self) -> list[tuple[str, str]]:
        """Every Whisper language → en (none for English-only models)."""
        if self._asr.english_only:
            return []
        return [(bcp47_language(code), "en") for code in WHISPER_LANGUAGES if code != "en"]

    def translate(self, request: TranslationRequest) -> list[str]:
        """One English line per request line, translated from that line's stretch of `request.audio`."""
        if not self.supports(request.source, request.target):
            raise ConfigError(f"mt/whisper cannot translate {request.source} → {request.target} (speech → en only)")
        if request.audio is None or len(request.spans) != len(request.texts):
            raise ConfigError("mt/whisper translates from speech: the request needs the audio and one span per line")
        samples = load_audio(request.audio)
        total_ms = len(samples) * 1000 // SAMPLE_RATE
        out: list[str] = []
        for index, (start, end) in enumerate(padded_spans(request.spans, total_ms, PAD_MS)):
            if not request.texts[index].strip() or end <= start:
                out.append("")
                continue
            clip = samples[start * SAMPLE_RATE // 1000 : end * SAMPLE_RATE // 1000]
            result = self._asr.translate_to_english(clip, request.source)
            text = " ".join(s.text for s in result.segments).strip()
            if not text:
                log.warning("line %d (%d-%d ms): Whisper heard nothing to translate", index + 1, start, end)
            out.append(text)
        return out


def padded_spans(spans: tuple[tuple[int, int], ...], total_ms: int, pad_ms: int) -> list[tuple[int, int]]:
    """Widen each span by up to `pad_ms`, never past the audio or the midpoint of the gap to a neighbour."""
    out = []
    for index, (start, end) in enumerate(spans):
        low = spans[index - 1][1] if index > 0 else 0
        high = spans[index + 1][0] if index + 1 < len(spans) else total_ms
        before = max(0, min(pad_ms, (start - low) // 2 if index > 0 else start))
        after = max(0, min(pad_ms, (high - end) // 2 if index + 1 < len(spans) else high - end))
        out.append((max(0, start - before), min(total_ms, end + after)))
    return out


def _primary(tag: str) -> str:
    return tag.strip().replace("_", "-").split("-")[0].lower()
