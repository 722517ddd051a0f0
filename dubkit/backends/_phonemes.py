"""espeak-ng through espeakng-loader's bundled library (ctypes): IPA phonemes, voices, raw synthesis.

Also the small output helpers every TTS backend shares (silence trimming, WAV publication). espeak-ng keeps
global state, so every call into it holds one process-wide lock.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dubkit.audio import write_wav
from dubkit.backends import registry
from dubkit.errors import ConfigError

log = logging.getLogger(__name__)

ESPEAK = "tts/espeak"  # the backend named in errors: the library is the espeak engine's
_LOCK = threading.RLock()
_SYNCHRONOUS, _DONT_EXIT, _CHARS_UTF8 = 2, 0x8000, 1
_RATE, _PITCH = 1, 3
_TIE = "^"
_IPA_WITH_TIE = 0x02 | 0x80 | (ord(_TIE) << 8)
# Punctuation worth keeping for prosody: clause/sentence marks before a space or the end, dashes.
_PUNCT = re.compile(r"(\s*(?:[.,;:!?…]+(?=\s|$)|\s[-–—]+\s|—)\s*)")
_LANG_FLAGS = re.compile(r"\([^()]*\)")  # language switches: "(^e^n)word(^f^r)"
_OVERRIDES = {"en": "gmw/en-US", "es-419": "roa/es-419"}


@dataclass(frozen=True)
class EspeakVoice:
    """One espeak-ng voice: its identifier (for set_voice) and the language codes it serves."""

    identifier: str
    name: str
    languages: tuple[str, ...]
    priorities: tuple[int, ...]  # per language: lower is preferred


class _Voice(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("languages", ctypes.c_void_p),
        ("identifier", ctypes.c_char_p),
        ("gender", ctypes.c_ubyte),
        ("age", ctypes.c_ubyte),
        ("variant", ctypes.c_ubyte),
        ("xx1", ctypes.c_ubyte),
        ("score", ctypes.c_int),
        ("spare", ctypes.c_void_p),
    ]


_SynthCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


class _Espeak:
    """The loaded library: one per process (espeak-ng is a singleton underneath)."""

    def __init__(self) -> None:
        try:
            import espeakng_loader

            self.lib = ctypes.CDLL(espeakng_loader.get_library_path())
            data = espeakng_loader.get_data_path()
        except (ImportError, OSError, RuntimeError) as exc:
            raise registry.unavailable(ESPEAK, f"cannot load libespeak-ng: {exc}") from exc
        self._declare()
        self.rate = self.lib.espeak_Initialize(_SYNCHRONOUS, 0, data.encode(), _DONT_EXIT)
        if self.rate <= 0:
            raise registry.unavailable(ESPEAK, f"espeak_Initialize failed for data {data}")
        self._chunks: list[np.ndarray] = []
        self._callback = _SynthCallback(self._collect)  # keep a reference: C holds the pointer
        self.lib.espeak_SetSynthCallback(self._callback)

    def _declare(self) -> None:
        lib = self.lib
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
        lib.espeak_TextToPhonemes.argtypes = [ctypes.POINTER(ctypes.c_char_p), ctypes.c_int, ctypes.c_int]
        lib.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_Voice))
        lib.espeak_ListVoices.argtypes = [ctypes.c_void_p]
        lib.espeak_SetSynthCallback.argtypes = [_SynthCallback]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_Synth.argtypes = [
            ctypes.c_char_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]

    def _collect(self, wav: Any, count: int, _events: Any) -> int:
        if count > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(count,)).copy())
        return 0

    def set_voice(self, identifier: str) -> None:
        if self.lib.espeak_SetVoiceByName(identifier.encode()) != 0:
            raise ConfigError(f"espeak-ng has no voice {identifier!r}")

    def clauses(self, text: str) -> list[str]:
        """IPA of each clause espeak-ng finds in *text* (ties '^' inside multi-letter phonemes)."""
        buffer = ctypes.create_string_buffer(text.encode("utf-8"))
        pointer = ctypes.c_char_p(ctypes.addressof(buffer))
        out: list[str] = []
        while pointer.value:
            result = self.lib.espeak_TextToPhonemes(ctypes.byref(pointer), _CHARS_UTF8, _IPA_WITH_TIE)
            if result is None:
                break
            out.append(result.decode("utf-8", errors="replace"))
        return out

    def synth(self, text: str, wpm: int, pitch: int) -> np.ndarray:
        self.lib.espeak_SetParameter(_RATE, wpm, 0)
        self.lib.espeak_SetParameter(_PITCH, pitch, 0)
        self._chunks = []
        data = text.encode("utf-8")
        status = self.lib.espeak_Synth(data, len(data) + 1, 0, 0, 0, _CHARS_UTF8, None, None)
        if status != 0:
            raise ConfigError(f"espeak-ng could not synthesize (status {status}): {text[:40]!r}")
        chunks, self._chunks = self._chunks, []
        return (np.concatenate(chunks) if chunks else np.zeros(0, np.int16)).astype(np.float32) / 32768.0

    def voices(self) -> list[EspeakVoice]:
        array = self.lib.espeak_ListVoices(None)
        out, index = [], 0
        while array[index]:
            voice = array[index].contents
            pairs = _languages(voice.languages)
            codes, ranks = tuple(code for code, _ in pairs), tuple(rank for _, rank in pairs)
            out.append(EspeakVoice(voice.identifier.decode(), voice.name.decode(), codes, ranks))
            index += 1
        return out


def _languages(pointer: int) -> list[tuple[str, int]]:
    """Decode espeak's language list: (priority byte, NUL-terminated name)* then a zero byte."""
    out = []
    while (rank := ctypes.string_at(pointer, 1)[0]) != 0:
        name = ctypes.string_at(pointer + 1)
        out.append((name.decode(), rank))
        pointer += len(name) + 2
    return out


@functools.lru_cache(maxsize=1)
def _engine() -> _Espeak:
    with _LOCK:
        return _Espeak()


def sample_rate() -> int:
    """espeak-ng's native output rate (22050 Hz)."""
    return _engine().rate


def espeak_voices() -> list[EspeakVoice]:
    with _LOCK:
        return _engine().voices()


def to_bcp47(code: str) -> str:
    """espeak language code → BCP-47 casing: 'pt-br' → 'pt-BR', 'cmn-latn-pinyin' → 'cmn-Latn-pinyin'."""
    parts = code.split("-")
    out, private = [parts[0].lower()], False
    for part in parts[1:]:
        private = private or part.lower() == "x"
        if not private and len(part) == 2 and part.isalpha():
            out.append(part.upper())
        elif not private and len(part) == 4 and part.isalpha():
            out.append(part.title())
        else:
            out.append(part.lower())
    return "-".join(out)


@functools.lru_cache(maxsize=1)
def _language_table() -> dict[str, str]:
    """Lower-case language code → identifier of the voice with the best priority for it (ties: list order)."""
    best: dict[str, tuple[int, str]] = {}
    for voice in espeak_voices():
        for code, rank in zip(voice.languages, voice.priorities, strict=False):
            if code.lower() not in best or rank < best[code.lower()][0]:
                best[code.lower()] = (rank, voice.identifier)
    return {code: identifier for code, (_, identifier) in best.items()}


def espeak_voice_for(language: str) -> str:
    """Pick the espeak-ng voice identifier for a BCP-47 tag ('pt-BR' → 'roa/pt-BR'; 'es-MX' → Latin American)."""
    tag = language.strip().lower().replace("_", "-")
    base, _, region = tag.partition("-")
    if base == "es" and region and region != "es":
        tag = "es-419"
    table = _language_table()
    while tag:
        if tag in _OVERRIDES:
            return _OVERRIDES[tag]
        if tag in table:
            return table[tag]
        tag = tag.rpartition("-")[0]
    raise ConfigError(f"espeak-ng has no voice for language {language!r}")


def phonemize(text: str, voice: str) -> str:
    """IPA for *text* with espeak voice *voice*, keeping clause punctuation (, . ? ! ; : … —) for prosody.

    Multi-letter phonemes are joined by '^' ties (e.g. 't^ʃ'); callers map or drop them.
    """
    pieces = _PUNCT.split(text)
    out: list[str] = []
    with _LOCK:
        engine = _engine()
        engine.set_voice(voice)
        for index, piece in enumerate(pieces):
            if index % 2:
                out.append(_punctuation(piece))
            elif piece.strip():
                out.append(" ".join(_LANG_FLAGS.sub("", clause) for clause in engine.clauses(piece)))
    return re.sub(r"\s+", " ", "".join(out)).strip()


def _punctuation(mark: str) -> str:
    mark = mark.strip()
    if mark.startswith("...") or "…" in mark:
        return "… "
    if mark[:1] in "-–—":
        return " — "
    return mark[-1] + " "


def espeak_synthesize(text: str, voice: str, wpm: int = 175, pitch: int = 50) -> np.ndarray:
    """Speak *text* with espeak-ng; float32 mono samples at sample_rate()."""
    with _LOCK:
        engine = _engine()
        engine.set_voice(voice)
        return engine.synth(text, max(80, min(wpm, 450)), max(0, min(pitch, 100)))


# --- helpers shared by the TTS backends ------------------------------------------------------------


def trim_silence(samples: np.ndarray, rate: int, keep_ms: int = 30, floor_db: float = -40.0) -> np.ndarray:
    """Cut leading/trailing silence (10 ms frames below peak + floor_db), keeping *keep_ms* around speech."""
    frame = max(1, rate // 100)
    count = len(samples) // frame
    if count == 0:
        return samples
    frames = samples[: count * frame].reshape(count, frame).astype(np.float64)
    levels = np.sqrt(np.mean(frames * frames, axis=1))
    loud = np.flatnonzero(levels > max(levels.max() * 10 ** (floor_db / 20), 1e-4))
    if loud.size == 0:
        return samples[:0]
    keep = rate * keep_ms // 1000
    return samples[max(0, loud[0] * frame - keep) : min(len(samples), (loud[-1] + 1) * frame + keep)]


def write_speech(out: Path, samples: np.ndarray, rate: int) -> None:
    """Publish mono speech atomically, trimmed; nothing audible → 50 ms of silence."""
    speech = trim_silence(np.asarray(samples, dtype=np.float32).ravel(), rate)
    if speech.size == 0:
        speech = np.zeros(rate // 20, np.float32)
    write_wav(Path(out), np.clip(speech, -1.0, 1.0), rate)
