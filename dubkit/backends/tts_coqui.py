"""Coqui TTS (`coqui-tts`): XTTS-v2 voice cloning, or any other Coqui model by name or local directory.

`model` is a Coqui model name (`tts_models/multilingual/multi-dataset/xtts_v2`, found in Coqui's
download folder `~/.local/share/tts`, or downloaded once when a network is there and HF_HUB_OFFLINE
is unset) or a local directory holding `config.json` and the checkpoint (`model.pth`, plus
`vocab.json` for XTTS). Checkpoints are read with `torch.load(weights_only=True)` by the library.

The voice profile's `model_voice` picks who speaks: a path to a reference WAV (or several joined by
`|`) clones that voice (see `dubkit.casting.references` for choosing clean lines of each speaker in the
original episode); otherwise it names one of the model's own speakers. Reference audio is read by
dubkit and passed as samples, so the library never decodes files itself.
"""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from dubkit.audio import read_wav, resample, to_mono
from dubkit.backends import registry
from dubkit.backends._fingerprint import file_sha256, library_versions
from dubkit.backends._phonemes import write_speech
from dubkit.backends._torch import torch_device
from dubkit.casting.voices import Voice
from dubkit.errors import BackendUnavailable, ConfigError, StageFailed, one_line

log = logging.getLogger(__name__)

NAME = "tts/coqui"
XTTS_V2 = "tts_models/multilingual/multi-dataset/xtts_v2"
_XTTS_RATE = 22050  # XTTS computes its conditioning from 22.05 kHz audio
_CHECKPOINTS = ("model.pth", "model_file.pth", "best_model.pth", "checkpoint.pth", "model.safetensors")


class CoquiSynthesizer:
    """Coqui TTS; sampling is seeded (`seed`) so a line re-synthesized gives the same take."""

    def __init__(
        self,
        model: str = XTTS_V2,
        device: str = "auto",
        temperature: float = 0.65,
        seed: int = 0,
        gpt_cond_len: int = 6,
    ) -> None:
        if not 0.0 < temperature <= 2.0:
            raise ConfigError(f"{NAME}: temperature must be in (0, 2], not {temperature}")
        if gpt_cond_len < 1:
            raise ConfigError(f"{NAME}: gpt_cond_len must be ≥ 1 second, not {gpt_cond_len}")
        self.model, self.device, self.temperature, self.seed, self.gpt_cond_len = (
            model,
            device,
            temperature,
            seed,
            gpt_cond_len,
        )
        self._engine: Any = None
        self._path: Path | None = None
        self._weights: str | None = None
        self._voices: dict[tuple[str, ...], tuple[Any, Any]] = {}

    # --- the backend contract -------------------------------------------------------------------------

    def fingerprint(self) -> dict[str, str]:
        if self._weights is None:
            self._weights = self._weights_identity()
        options = {"temperature": self.temperature, "seed": self.seed, "gpt_cond_len": self.gpt_cond_len}
        return {
            "library": library_versions("coqui-tts", "torch", "transformers"),
            "model": self.model,
            "weights": self._weights,
            "options": json.dumps(options, sort_keys=True),
        }

    def languages(self) -> list[str]:
        """BCP-47 tags the model speaks (from its config.json; `zh-cn` → `zh`)."""
        config = self._config()
        codes = config.get("languages") or []
        if not codes:
            match = re.match(r"tts_models/([a-z]{2,3})/", self.model)
            codes = [match[1]] if match else [str(config.get("phoneme_language") or "en").split("-")[0]]
        return sorted({str(c).split("-")[0] for c in codes})

    @property
    def is_xtts(self) -> bool:
        return str(self._config().get("model", "")).lower() == "xtts"

    def load(self) -> None:
        if self._engine is not None:
            return
        path = self.path()
        try:
            import torch

            device = torch_device(self.device, NAME)
            self._engine = _load_xtts(path, device) if self.is_xtts else _load_other(path, device)
        except ImportError as exc:
            raise registry.unavailable(NAME, f"coqui-tts cannot be imported ({one_line(exc)})") from None
        except OSError as exc:  # torchaudio's native library missing, an unreadable checkpoint
            raise registry.unavailable(NAME, f"cannot load {self.model} ({one_line(exc)})") from None
        except (RuntimeError, ValueError, KeyError, AssertionError) as exc:
            raise BackendUnavailable(NAME, f"cannot load {self.model} from {path} ({one_line(exc)})") from None
        torch.manual_seed(self.seed)
        log.info("%s loaded %s on %s", NAME, self.model, device)

    def close(self) -> None:
        self._engine = None
        self._voices.clear()

    def synthesize(self, text: str, voice: Voice, out: Path, speed: float = 1.0) -> None:
        """Write trimmed mono speech at the model's rate (24 kHz for XTTS) to *out*."""
        self.load()
        rate = speed * voice.rate
        if self.is_xtts:
            wav, sample_rate = self._xtts(text, voice, rate)
        else:
            wav, sample_rate = self._other(text, voice, rate)
        if not np.isfinite(wav).all():
            raise StageFailed(f"{NAME} {self.model}: non-finite samples for {text[:60]!r}")
        write_speech(out, wav, sample_rate)

    # --- XTTS ---------------------------------------------------------------------------------------------

    def clone(self, references: tuple[str, ...]) -> tuple[Any, Any]:
        """XTTS conditioning (GPT latents, speaker embedding) from reference WAVs; memoized per file state."""
        import torch

        key = tuple(f"{p}:{_stamp(Path(p))}" for p in references)
        if key not in self._voices:
            samples = [_reference_samples(Path(p)) for p in references]
            with torch.inference_mode():
                audio = torch.from_numpy(np.concatenate(samples))[None].to(self._engine.device)
                latents = self._engine.get_gpt_cond_latents(audio, _XTTS_RATE, length=self.gpt_cond_len)
                embeddings = [
                    self._engine.get_speaker_embedding(torch.from_numpy(s)[None].to(audio.device), _XTTS_RATE)
                    for s in samples
                ]
            self._voices[key] = (latents, torch.stack(embeddings).mean(dim=0))
        return self._voices[key]

    def _xtts(self, text: str, voice: Voice, rate: float) -> tuple[np.ndarray, int]:
        import torch

        language = xtts_language(voice.language, self._config().get("languages") or [])
        latents, embedding = self._conditioning(voice)
        torch.manual_seed(self.seed)
        try:
            result = self._engine.inference(
                text, language, latents, embedding, temperature=self.temperature, speed=rate, enable_text_splitting=True
            )
        except (RuntimeError, NotImplementedError, ValueError) as exc:
            raise StageFailed(f"{NAME} {self.model}: cannot synthesize {text[:60]!r} ({one_line(exc)})") from None
        output_rate = int(self._config().get("model_args", {}).get("output_sample_rate", 24000))
        return np.asarray(result["wav"], dtype=np.float32), output_rate

    def _conditioning(self, voice: Voice) -> tuple[Any, Any]:
        references = tuple(p for p in voice.model_voice.split("|") if p)
        if references and all(Path(p).is_file() for p in references):
            return self.clone(references)
        speakers = getattr(self._engine, "speaker_manager", None)
        if speakers is not None and voice.model_voice in speakers.speakers:
            return tuple(speakers.speakers[voice.model_voice].values())
        raise ConfigError(
            f"voice {voice.name!r}: model_voice {voice.model_voice!r} is neither a reference WAV "
            f"nor a speaker of {self.model}"
        )

    # --- any other Coqui model (VITS, YourTTS, ...) ---------------------------------------------------------

    def _other(self, text: str, voice: Voice, rate: float) -> tuple[np.ndarray, int]:
        import torch

        synthesizer = self._engine
        network = synthesizer.tts_model
        if hasattr(network, "length_scale"):
            network.length_scale = float(self._config().get("model_args", {}).get("length_scale", 1.0)) / rate
        speaker = voice.model_voice or None
        reference = speaker if speaker and Path(speaker).is_file() else None
        language = voice.language.split("-")[0] if getattr(network, "language_manager", None) else None
        torch.manual_seed(self.seed)
        try:
            wav = synthesizer.tts(
                text, speaker_name=None if reference else speaker, language_name=language, speaker_wav=reference
            )
        except (RuntimeError, ValueError, KeyError, AssertionError) as exc:
            raise StageFailed(f"{NAME} {self.model}: cannot synthesize {text[:60]!r} ({one_line(exc)})") from None
        return np.asarray(wav, dtype=np.float32), int(synthesizer.output_sample_rate)

    # --- locating and identifying the model -------------------------------------------------------------------

    def path(self) -> Path:
        if self._path is None:
            self._path = resolve(self.model)
        return self._path

    def _config(self) -> dict[str, Any]:
        try:
            return json.loads((self.path() / "config.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise BackendUnavailable(NAME, f"cannot read {self.path() / 'config.json'} ({one_line(exc)})") from None

    def _weights_identity(self) -> str:
        local = Path(self.model).expanduser()
        directory = local if local.is_dir() else _download_dir(self.model)
        if not directory.is_dir():
            return f"coqui:{self.model}@uncached"
        files = [directory / "config.json", checkpoint(directory)]
        files += [f for f in (directory / "vocab.json", directory / "speakers_xtts.pth") if f.is_file()]
        return " ".join(f"{f.name}:sha256:{file_sha256(f)}" for f in files)


def xtts_language(tag: str, supported: list[str]) -> str:
    """BCP-47 → XTTS's code: the primary subtag, `zh-cn` for any Chinese; ConfigError if unsupported."""
    primary = tag.strip().replace("_", "-").split("-")[0].lower()
    code = "zh-cn" if primary == "zh" else primary
    if code not in supported:
        raise ConfigError(f"{NAME}: XTTS model does not speak {tag!r} (it speaks {', '.join(supported)})")
    return code


def resolve(model: str) -> Path:
    """A local model directory, or a Coqui model name from Coqui's download folder (downloaded when allowed)."""
    local = Path(model).expanduser()
    if local.is_dir():
        if not (local / "config.json").is_file():
            raise BackendUnavailable(NAME, f"{local} is not a Coqui model directory (no config.json)")
        return local
    if not re.fullmatch(r"(tts_models|voice_conversion_models)/[\w.-]+/[\w.-]+/[\w.-]+", model):
        raise BackendUnavailable(NAME, f"model {model!r} is neither a directory nor a Coqui model name")
    directory = _download_dir(model)
    if (directory / "config.json").is_file():
        return directory
    how = (
        f'download it once with network access: COQUI_TOS_AGREED=1 python -c "from TTS.utils.manage import '
        f"ModelManager; ModelManager().download_model('{model}')\", or pass a local model directory"
    )
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        raise BackendUnavailable(NAME, f"model {model!r} is not in {directory.parent} and HF_HUB_OFFLINE is set", how)
    try:
        from TTS.utils.manage import ModelManager

        _, config, _ = ModelManager(progress_bar=False).download_model(model)
        return Path(config).parent if config else directory
    except Exception as exc:  # noqa: BLE001 - network, licence prompt, unknown name
        raise BackendUnavailable(NAME, f"model {model!r} cannot be downloaded ({one_line(exc)})", how) from None


def checkpoint(directory: Path) -> Path:
    found = next((directory / n for n in _CHECKPOINTS if (directory / n).is_file()), None)
    if found is None:
        raise BackendUnavailable(NAME, f"{directory} holds no checkpoint ({', '.join(_CHECKPOINTS)})")
    return found


def _download_dir(model: str) -> Path:
    """Where Coqui's ModelManager keeps a downloaded model (TTS_HOME, XDG_DATA_HOME, ~/.local/share)."""
    home = os.environ.get("TTS_HOME") or os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(home).expanduser() / "tts" / model.replace("/", "--")


def _load_xtts(path: Path, device: str) -> Any:
    from TTS.tts.configs.xtts_config import XttsConfig
    from TTS.tts.models.xtts import Xtts

    config = XttsConfig()
    config.load_json(str(path / "config.json"))
    model = Xtts(config)
    model.load_checkpoint(config, checkpoint_dir=str(path), checkpoint_path=str(checkpoint(path)), eval=True)
    return model.to(device)


def _load_other(path: Path, device: str) -> Any:
    from TTS.utils.synthesizer import Synthesizer

    return Synthesizer(
        tts_checkpoint=str(checkpoint(path)), tts_config_path=str(path / "config.json"), use_cuda=device == "cuda"
    )


def _reference_samples(path: Path) -> np.ndarray:
    try:
        samples, rate = read_wav(path)
    except (RuntimeError, OSError) as exc:
        raise ConfigError(f"{path}: cannot read reference audio ({one_line(exc)})") from None
    samples = resample(to_mono(samples), rate, _XTTS_RATE).astype(np.float32)
    if len(samples) < _XTTS_RATE // 3:
        raise ConfigError(f"{path}: reference audio is shorter than 0.33 s")
    return samples


def _stamp(path: Path) -> str:
    stat = path.stat()
    return f"{stat.st_size}:{stat.st_mtime_ns}"
