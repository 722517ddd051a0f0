"""What the Whisper engines share (faster-whisper's and openai-whisper's transcribers, and Whisper's speech
translation): Whisper's languages and their BCP-47 tags, 16 kHz mono input, and its segments as dubkit lines."""

from __future__ import annotations

import dataclasses
import logging
import math
from pathlib import Path
from typing import Any

import numpy as np

from dubkit.audio import read_wav, resample, to_mono
from dubkit.errors import ConfigError, MediaError, one_line
from dubkit.script import Segment, Word

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
# Whisper's 99 languages (as Whisper spells them: "jw" is Javanese).
_LANGUAGES = (
    "af am ar as az ba be bg bn bo br bs ca cs cy da de el en es et eu fa fi fo fr gl gu ha haw he hi hr "
    "ht hu hy id is it ja jw ka kk km kn ko la lb ln lo lt lv mg mi mk ml mn mr ms mt my ne nl nn no oc pa "
    "pl ps pt ro ru sa sd si sk sl sn so sq sr su sv sw ta te tg th tk tl tr tt uk ur uz vi yi yo zh"
)
WHISPER_LANGUAGES = tuple(_LANGUAGES.split())
_ALIASES = {"jv": "jw", "iw": "he", "nb": "no", "fil": "tl", "in": "id", "ji": "yi", "cmn": "zh", "mo": "ro"}
_TO_BCP47 = {"jw": "jv"}


def whisper_language(tag: str) -> str:
    """BCP-47 tag (`pt-BR`, `zh-Hans`, `jv`) → Whisper's language code; ConfigError if unsupported."""
    primary = tag.strip().replace("_", "-").split("-")[0].lower()
    code = _ALIASES.get(primary, primary)
    if code not in WHISPER_LANGUAGES:
        raise ConfigError(f"language {tag!r} is not one Whisper knows (codes like en, es, pt-BR)")
    return code


def bcp47_language(code: str) -> str:
    """Whisper's language code → BCP-47 (only `jw` differs)."""
    return _TO_BCP47.get(code, code)


def load_audio(audio: Path | np.ndarray) -> np.ndarray:
    """16 kHz mono float32 samples from a WAV path (down-mixed/resampled if needed) or pass an array through."""
    if isinstance(audio, np.ndarray):
        return np.ascontiguousarray(to_mono(audio), dtype=np.float32)
    try:
        samples, rate = read_wav(Path(audio))
    except (RuntimeError, OSError) as exc:  # soundfile.LibsndfileError is a RuntimeError
        raise MediaError(audio, f"cannot read audio ({one_line(exc)})") from None
    samples = to_mono(samples)
    if rate != SAMPLE_RATE:
        log.debug("%s: resampling %d Hz to %d Hz", audio, rate, SAMPLE_RATE)
        samples = resample(samples, rate, SAMPLE_RATE)
    return np.ascontiguousarray(samples, dtype=np.float32)


def lines(raw_segments: Any) -> tuple[Segment, ...]:
    """Whisper's segments (attributes start, end, text, avg_logprob, words) → numbered dubkit lines, empty ones
    left out."""
    segments = (s for s in (_segment(raw) for raw in raw_segments) if s is not None)
    return tuple(dataclasses.replace(s, id=f"L{i:04d}") for i, s in enumerate(segments, start=1))


def _segment(raw: Any) -> Segment | None:
    """A Whisper segment → dubkit Segment (bounds enclose the words); None for empty text."""
    text = raw.text.strip()
    if not text:
        return None
    words = _words(raw.words or ())
    start, end = _ms(raw.start), _ms(raw.end)
    if words:
        start, end = min(start, words[0].start_ms), max(end, words[-1].end_ms)
    confidence = round(math.exp(raw.avg_logprob), 4) if raw.avg_logprob is not None else None
    return Segment(id="", start_ms=start, end_ms=max(end, start + 1), text=text, words=words, confidence=confidence)


def _words(raw_words: Any) -> tuple[Word, ...]:
    """Whisper words → Word tuple, stripped, with monotonic non-overlapping times."""
    out: list[Word] = []
    previous_end = 0
    for raw in raw_words:
        text = raw.word.strip()
        if not text:
            continue
        start = max(_ms(raw.start), previous_end)
        end = max(_ms(raw.end), start)
        out.append(Word(start_ms=start, end_ms=end, text=text, probability=round(float(raw.probability), 4)))
        previous_end = end
    return tuple(out)


def _ms(seconds: float) -> int:
    return int(round(seconds * 1000))
