"""Transcribe backend: OpenAI's reference Whisper (`openai-whisper`, PyTorch).

`model`: `embedded:base` (the bundled faster-whisper base weights, converted in memory to this
library's layout: no download), a local `.pt` checkpoint (`{"dims": ..., "model_state_dict": ...}`,
loaded with `torch.load(weights_only=True)`), or an official name (`small`, `large-v3`, `turbo` ...)
found in the Whisper download cache (`~/.cache/whisper`) or downloaded once when a network is there.
Audio is passed as samples, so the library never runs ffmpeg.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import struct
import types
from pathlib import Path
from typing import Any

import numpy as np

from dubkit.backends import models, registry
from dubkit.backends._fingerprint import file_sha256, library_versions
from dubkit.backends._torch import torch_device
from dubkit.backends._whisper import bcp47_language, lines, load_audio, whisper_language
from dubkit.errors import BackendUnavailable, ConfigError, one_line
from dubkit.script import Transcript

log = logging.getLogger(__name__)

BACKEND = "asr/whisper"
EMBEDDED = "embedded:base"
_DOWNLOAD_HOST = ("openaipublic.azureedge.net", 443)
_CT2_TYPES = ("float32", "int8", "int16", "int32", "float16", "bfloat16")


class WhisperTranscriber:
    """Whisper speech recognition with word timestamps through openai-whisper (greedy or beam search)."""

    def __init__(self, model: str = EMBEDDED, device: str = "auto", beam_size: int = 5, threads: int = 0) -> None:
        if beam_size < 1:
            raise ConfigError(f"beam_size must be ≥ 1, got {beam_size}")
        if threads < 0:
            raise ConfigError(f"threads must be ≥ 0, got {threads}")
        self.model, self.device, self.beam_size, self.threads = model, device, beam_size, threads
        self._whisper: Any = None
        self._weights: str | None = None

    @property
    def english_only(self) -> bool:
        return Path(self.model).name.removesuffix(".pt").endswith(".en")

    def fingerprint(self) -> dict[str, str]:
        """Library versions, model id and weights identity; cheap, never loads the model."""
        if self._weights is None:
            self._weights = self._weights_identity()
        library = library_versions("openai-whisper", "torch", backend=BACKEND)
        return {"library": library, "model": self.model, "weights": self._weights}

    def load(self) -> None:
        if self._whisper is not None:
            return
        try:
            import torch
            import whisper.model  # noqa: F401 - fail early and clearly when openai-whisper is missing
        except ImportError as exc:
            raise registry.unavailable(BACKEND, f"openai-whisper is not installed ({exc})") from None
        if self.threads:
            torch.set_num_threads(self.threads)
        device = torch_device(self.device, BACKEND)
        if self.model == EMBEDDED:
            self._whisper = _embedded_base(device)
        else:
            self._whisper = _load_checkpoint(self._checkpoint(), device)
        log.info("loaded openai-whisper %s on %s", self.model, device)

    def close(self) -> None:
        self._whisper = None

    def transcribe(self, audio: Path | np.ndarray, language: str | None = None) -> Transcript:
        """Segments with word timestamps; `language` None detects it. No speech → zero segments."""
        code = whisper_language(language) if language else None
        if self.english_only and code not in (None, "en"):
            raise ConfigError(f"Whisper model {self.model!r} is English-only: cannot transcribe {language}")
        samples = load_audio(audio)
        self.load()
        result = self._whisper.transcribe(
            samples,
            language=code,
            task="transcribe",
            beam_size=self.beam_size if self.beam_size > 1 else None,
            word_timestamps=True,
            fp16=str(self._whisper.device).startswith("cuda"),
            condition_on_previous_text=False,
            verbose=None,
            temperature=0.0,
        )
        segments = lines(_namespace(s) for s in result["segments"])
        detected = bcp47_language(result.get("language") or code or "en")
        log.info("transcribed %d segments, language %s", len(segments), detected)
        return Transcript(language=detected, segments=segments)

    def _checkpoint(self) -> Path:
        path = Path(self.model).expanduser()
        if path.suffix == ".pt" or path.exists():
            if not path.is_file():
                raise BackendUnavailable(BACKEND, f"Whisper checkpoint {path} does not exist")
            return path
        return _hub_checkpoint(self.model)

    def _weights_identity(self) -> str:
        if self.model == EMBEDDED:
            return models.whisper_base_identity()
        path = Path(self.model).expanduser()
        if path.is_file():
            return "sha256:" + file_sha256(path)
        cached = _cache_dir() / f"{self.model}.pt"
        return f"openai:{self.model}@{cached.stat().st_size if cached.is_file() else 'uncached'}"


def _load_checkpoint(path: Path, device: str) -> Any:
    import whisper

    try:
        return whisper.load_model(str(path), device=device)  # torch.load(weights_only=True) inside
    except (RuntimeError, OSError, KeyError, TypeError, ValueError) as exc:
        raise BackendUnavailable(BACKEND, f"cannot load Whisper checkpoint {path} ({one_line(exc)})") from None
    except Exception as exc:  # noqa: BLE001 - torch's UnpicklingError for a non-weights file
        raise BackendUnavailable(BACKEND, f"{path} is not a Whisper weights file ({one_line(exc)})") from None


def _hub_checkpoint(name: str) -> Path:
    """An official model: from the download cache, else downloaded (never when offline, never hanging)."""
    import whisper

    if name not in whisper.available_models():
        known = ", ".join(whisper.available_models())
        raise BackendUnavailable(BACKEND, f"Whisper model {name!r} is neither a file nor an official name ({known})")
    cached = _cache_dir() / Path(whisper._MODELS[name]).name
    if cached.is_file():
        return cached
    how = f"run once with network access, or pass a local .pt checkpoint (download {whisper._MODELS[name]})"
    if _offline():
        raise BackendUnavailable(
            BACKEND, f"Whisper model {name!r} is not in {_cache_dir()} and HF_HUB_OFFLINE is set", how
        )
    try:
        socket.create_connection(_DOWNLOAD_HOST, timeout=5).close()
        return Path(whisper._download(whisper._MODELS[name], str(_cache_dir()), False))
    except Exception as exc:  # noqa: BLE001 - DNS, network, checksum: all mean "cannot get it now"
        raise BackendUnavailable(
            BACKEND, f"Whisper model {name!r} cannot be downloaded ({one_line(exc)})", how
        ) from None


def _cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "whisper"


def _offline() -> bool:
    return any(
        os.environ.get(v, "").lower() in ("1", "true", "yes", "on") for v in ("HF_HUB_OFFLINE", "DUBKIT_OFFLINE")
    )


def _namespace(segment: dict[str, Any]) -> Any:
    """openai-whisper's dict segment → the attribute shape `_whisper.lines` reads (faster-whisper's)."""
    words = [types.SimpleNamespace(**w) for w in segment.get("words") or ()]
    return types.SimpleNamespace(**{**segment, "words": words})


# --- the embedded base: CTranslate2 weights → openai-whisper's state dict --------------------------------


def _embedded_base(device: str) -> Any:
    """Whisper base from the bundled CTranslate2 model (float16), converted in memory (~1 s)."""
    import torch
    from whisper.model import ModelDimensions, Whisper

    directory = models.whisper_base_dir()
    weights = read_ct2(directory / "model.bin")
    state, dims = ct2_to_openai(weights)
    model = Whisper(ModelDimensions(**dims))
    model.load_state_dict({k: torch.from_numpy(v.astype(np.float32)) for k, v in state.items()})
    heads = json.loads((directory / "config.json").read_text())["alignment_heads"]
    mask = torch.zeros(dims["n_text_layer"], dims["n_text_head"], dtype=torch.bool)
    for layer, head in heads:
        mask[layer, head] = True
    model.register_buffer("alignment_heads", mask.to_sparse(), persistent=False)
    return model.to(device).eval()


def read_ct2(path: Path) -> dict[str, np.ndarray]:
    """The variables of a CTranslate2 `model.bin` (binary format version 6) as numpy arrays."""
    out: dict[str, np.ndarray] = {}
    with open(path, "rb") as f:

        def text() -> str:
            (size,) = struct.unpack("H", f.read(2))
            return f.read(size)[:-1].decode()

        (version,) = struct.unpack("I", f.read(4))
        if version != 6:
            raise BackendUnavailable(BACKEND, f"{path}: CTranslate2 binary version {version}, expected 6")
        text(), f.read(4)
        (count,) = struct.unpack("I", f.read(4))
        for _ in range(count):
            name = text()
            (rank,) = struct.unpack("B", f.read(1))
            shape = struct.unpack(f"{rank}I", f.read(4 * rank))
            dtype, size = struct.unpack("=BI", f.read(5))
            out[name] = np.frombuffer(f.read(size), dtype=_CT2_TYPES[dtype]).reshape(shape)
    return out


def ct2_to_openai(ct2: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """Rename CTranslate2 Whisper variables to openai-whisper's, splitting the fused Q/K/V projections."""
    state: dict[str, np.ndarray] = {}
    for side in ("encoder", "decoder"):
        layers = 1 + max(int(k.split("/")[1][6:]) for k in ct2 if re.match(rf"{side}/layer_\d+/", k))
        for i in range(layers):
            _block(ct2, state, f"{side}/layer_{i}", f"{side}.blocks.{i}", cross=side == "decoder")
    for n in (1, 2):
        state[f"encoder.conv{n}.weight"] = ct2[f"encoder/conv{n}/weight"]
        state[f"encoder.conv{n}.bias"] = ct2[f"encoder/conv{n}/bias"]
    state["encoder.positional_embedding"] = ct2["encoder/position_encodings/encodings"]
    _norm(ct2, state, "encoder/layer_norm", "encoder.ln_post")
    state["decoder.token_embedding.weight"] = ct2["decoder/embeddings/weight"]
    state["decoder.positional_embedding"] = ct2["decoder/position_encodings/encodings"]
    _norm(ct2, state, "decoder/layer_norm", "decoder.ln")
    vocab, width = state["decoder.token_embedding.weight"].shape
    dims = {
        "n_mels": ct2["encoder/conv1/weight"].shape[1],
        "n_audio_ctx": state["encoder.positional_embedding"].shape[0],
        "n_audio_state": ct2["encoder/conv1/weight"].shape[0],
        "n_audio_head": int(ct2["encoder/num_heads"]),
        "n_audio_layer": sum(1 for k in state if k.endswith(".attn_ln.weight") and k.startswith("encoder")),
        "n_vocab": vocab,
        "n_text_ctx": state["decoder.positional_embedding"].shape[0],
        "n_text_state": width,
        "n_text_head": int(ct2["decoder/num_heads"]),
        "n_text_layer": sum(1 for k in state if k.endswith(".attn_ln.weight") and k.startswith("decoder")),
    }
    return state, dims


def _block(ct2: dict[str, np.ndarray], state: dict[str, np.ndarray], src: str, dst: str, cross: bool) -> None:
    _attention(ct2, state, f"{src}/self_attention", f"{dst}.attn", fused=3)
    _norm(ct2, state, f"{src}/self_attention/layer_norm", f"{dst}.attn_ln")
    if cross:
        _attention(ct2, state, f"{src}/attention", f"{dst}.cross_attn", fused=1)
        _norm(ct2, state, f"{src}/attention/layer_norm", f"{dst}.cross_attn_ln")
    for ct2_index, torch_index in ((0, 0), (1, 2)):
        state[f"{dst}.mlp.{torch_index}.weight"] = ct2[f"{src}/ffn/linear_{ct2_index}/weight"]
        state[f"{dst}.mlp.{torch_index}.bias"] = ct2[f"{src}/ffn/linear_{ct2_index}/bias"]
    _norm(ct2, state, f"{src}/ffn/layer_norm", f"{dst}.mlp_ln")


def _attention(ct2: dict[str, np.ndarray], state: dict[str, np.ndarray], src: str, dst: str, fused: int) -> None:
    """Self-attention fuses Q,K,V in linear_0; cross-attention has Q in linear_0 and K,V fused in linear_1."""
    if fused == 3:
        weights = np.split(ct2[f"{src}/linear_0/weight"], 3)
        biases = np.split(ct2[f"{src}/linear_0/bias"], 3)
        out = f"{src}/linear_1"
    else:
        weights = [ct2[f"{src}/linear_0/weight"], *np.split(ct2[f"{src}/linear_1/weight"], 2)]
        biases = [ct2[f"{src}/linear_0/bias"], *np.split(ct2[f"{src}/linear_1/bias"], 2)]
        out = f"{src}/linear_2"
    for name, weight, bias in zip(("query", "key", "value"), weights, biases, strict=True):
        state[f"{dst}.{name}.weight"] = weight
        if name != "key":  # Whisper's key projection has no bias (CTranslate2 stores zeros)
            state[f"{dst}.{name}.bias"] = bias
    state[f"{dst}.out.weight"] = ct2[f"{out}/weight"]
    state[f"{dst}.out.bias"] = ct2[f"{out}/bias"]


def _norm(ct2: dict[str, np.ndarray], state: dict[str, np.ndarray], src: str, dst: str) -> None:
    state[f"{dst}.weight"] = ct2[f"{src}/gamma"]
    state[f"{dst}.bias"] = ct2[f"{src}/beta"]
