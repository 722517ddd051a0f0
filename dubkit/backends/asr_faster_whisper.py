"""Transcribe backend: Whisper through faster-whisper (CTranslate2). Embedded base model by default."""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from dubkit.backends import models, registry
from dubkit.backends._fingerprint import file_sha256, library_versions
from dubkit.backends._whisper import bcp47_language, lines, load_audio, whisper_language
from dubkit.errors import BackendUnavailable, ConfigError, one_line
from dubkit.script import Transcript

log = logging.getLogger(__name__)

BACKEND = "asr/faster-whisper"
EMBEDDED = ("embedded:base", "embedded:tiny.en")
_HUB_SIZES = (
    "tiny tiny.en base base.en small small.en medium medium.en large-v1 large-v2 large-v3 large "
    "distil-large-v2 distil-medium.en distil-small.en distil-large-v3 distil-large-v3.5 large-v3-turbo turbo"
)
HUB_SIZES = tuple(_HUB_SIZES.split())


_FALLBACK_TEMPERATURES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)


class FasterWhisperTranscriber:
    """Whisper speech recognition with word timestamps and VAD.

    `model`: `embedded:base` (99 languages), `embedded:tiny.en` (English only, fast), a local CTranslate2
    directory, or a hub name such as `large-v3` / `Systran/faster-whisper-small` (needs a network once).
    `fallback`: Whisper's re-decoding at rising temperatures when a window decodes poorly. Off by default:
    on real episodes the sampled retries invented sentences nobody said and tripled the time.
    """

    def __init__(
        self,
        model: str = "embedded:base",
        device: str = "cpu",
        compute_type: str = "int8",
        beam_size: int = 5,
        vad: bool = True,
        cpu_threads: int = 0,
        fallback: bool = False,
    ) -> None:
        if model.startswith("embedded:") and model not in EMBEDDED:
            raise ConfigError(f"unknown embedded Whisper model {model!r} (choose {' or '.join(EMBEDDED)})")
        if beam_size < 1:
            raise ConfigError(f"beam_size must be ≥ 1, got {beam_size}")
        self.model = model
        self.device = device
        self.compute_type = compute_type
        self.beam_size = beam_size
        self.vad = vad
        self.cpu_threads = cpu_threads
        self.fallback = fallback
        self._whisper: Any = None
        self._weights: str | None = None

    @property
    def english_only(self) -> bool:
        """True for `.en` models (judged by name), which neither detect languages nor translate."""
        return self.model.rstrip("/").endswith(".en")

    def fingerprint(self) -> dict[str, str]:
        """Library versions, model id and weights identity; cheap, never loads the model."""
        if self._weights is None:
            self._weights = self._weights_identity()
        decoding = f"beam {self.beam_size}, vad {self.vad}, fallback {self.fallback}"
        library = library_versions("faster-whisper", "ctranslate2", backend=BACKEND)
        return {"library": library, "model": self.model, "weights": self._weights, "decoding": decoding}

    def load(self) -> None:
        """Load the model once (assembling the embedded one on first use)."""
        if self._whisper is not None:
            return
        try:
            from faster_whisper import WhisperModel
        except ImportError:
            raise registry.unavailable(BACKEND, "faster-whisper is not installed") from None
        path = self._model_path()
        try:
            self._whisper = WhisperModel(
                path, device=self.device, compute_type=self.compute_type, cpu_threads=self.cpu_threads
            )
        except (RuntimeError, ValueError, OSError) as exc:
            where = f"{self.device}/{self.compute_type}"
            raise BackendUnavailable(
                BACKEND, f"cannot load Whisper model {self.model!r} on {where} ({one_line(exc)})"
            ) from None
        log.info("loaded Whisper %s (%s) on %s/%s", self.model, path, self.device, self.compute_type)

    def close(self) -> None:
        self._whisper = None

    def transcribe(self, audio: Path | np.ndarray, language: str | None = None) -> Transcript:
        """Segments with word timestamps; `language` None detects it. No speech → zero segments."""
        return self._run(audio, language, task="transcribe")

    def translate_to_english(self, audio: Path | np.ndarray, language: str | None = None) -> Transcript:
        """Whisper's `task="translate"`: English text (no word timestamps) for speech in `language`."""
        return self._run(audio, language, task="translate")

    def _run(self, audio: Path | np.ndarray, language: str | None, task: str) -> Transcript:
        code = whisper_language(language) if language else None
        if self.english_only and (task == "translate" or code not in (None, "en")):
            raise ConfigError(
                f"Whisper model {self.model!r} is English-only: cannot {task} {language or 'other languages'}"
            )
        samples = load_audio(audio)
        self.load()
        words = task == "transcribe"
        raw, info = self._whisper.transcribe(
            samples,
            language=code,
            task=task,
            beam_size=self.beam_size,
            vad_filter=self.vad,
            word_timestamps=words,
            temperature=_FALLBACK_TEMPERATURES if self.fallback else 0.0,
        )
        segments = lines(raw)
        if task == "translate":
            return Transcript(language="en", segments=segments)
        detected = bcp47_language(info.language)
        probability = 1.0 if code else round(float(info.language_probability), 4)
        log.info("transcribed %d segments, language %s (p=%.2f)", len(segments), detected, probability)
        return Transcript(language=detected, segments=segments, language_probability=probability)

    def _model_path(self) -> str:
        if self.model == "embedded:base":
            return str(models.whisper_base_dir())
        if self.model == "embedded:tiny.en":
            return str(models.whisper_tiny_en_dir())
        local = _local_dir(self.model)
        return str(local) if local is not None else _hub_path(self.model)

    def _weights_identity(self) -> str:
        if self.model == "embedded:base":
            return models.whisper_base_identity()
        if self.model == "embedded:tiny.en":
            return models.package_identity(models.WHISPER_TINY_EN_PACKAGE, models.whisper_tiny_en_dir() / "model.bin")
        local = _local_dir(self.model)
        if local is not None:
            return "sha256:" + file_sha256(local / "model.bin")
        return _hub_identity(self.model)


def _local_dir(model: str) -> Path | None:
    """The model's directory if `model` names a local path; None for hub names; BackendUnavailable if broken."""
    path = Path(model).expanduser()
    if path.is_dir():
        if not (path / "model.bin").is_file():
            raise BackendUnavailable(BACKEND, f"{path} is not a CTranslate2 Whisper model directory (no model.bin)")
        return path
    if model in HUB_SIZES or re.fullmatch(r"[\w.-]+/[\w.-]+", model):
        return None
    raise BackendUnavailable(
        BACKEND,
        f"Whisper model {model!r} not found (not a directory, not a hub name)",
        "pass a CTranslate2 model directory",
    )


def _hub_path(model: str) -> str:
    """Resolve a hub name to a local snapshot: the cache first, then (unless HF_HUB_OFFLINE) a download."""
    from faster_whisper.utils import download_model

    try:
        return str(download_model(model, local_files_only=True))
    except Exception:  # noqa: BLE001 - any hub failure here just means "not cached"
        pass
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        cause = "not in the local Hugging Face cache and HF_HUB_OFFLINE is set"
    else:
        log.info("downloading Whisper model %s from the Hugging Face hub", model)
        try:
            return str(download_model(model))
        except Exception as exc:  # noqa: BLE001 - network, auth, unknown repo: all mean "unavailable"
            cause = f"not cached and the download failed: {one_line(exc)}"
    raise BackendUnavailable(
        BACKEND,
        f"Whisper model {model!r} is {cause}",
        "run once with network access, or pass a local CTranslate2 directory",
    )


def _hub_identity(model: str) -> str:
    """Hub models are identified by the cached snapshot's commit (unknown until downloaded)."""
    try:
        from faster_whisper.utils import download_model

        return f"hub:{model}@{Path(download_model(model, local_files_only=True)).name}"
    except Exception:  # noqa: BLE001 - not cached (or no faster-whisper): identity not known yet
        return f"hub:{model}@uncached"
