"""A typed view of `report.json` for the pages: frozen dataclasses built from the report mapping.

The view reads the verdicts the report made (`dubkit.qa.report`: each line's flags, each sync's flags, the
episode's flags and the loudness and duration `ok`s); it decides none itself. The thresholds come along only to
name the bound a flagged figure breaks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SYNC_FLAGS = ("sync_offset", "sync_confidence")


@dataclass(frozen=True)
class Span:
    start_ms: int
    end_ms: int

    @classmethod
    def read(cls, span: Mapping[str, Any] | None) -> Span | None:
        return None if span is None else cls(int(span["start_ms"]), int(span["end_ms"]))


@dataclass(frozen=True)
class Sync:
    """Mouth against speech: offset in frames (+ = sound late), confidence, and the bounds it breaks."""

    offset_frames: float
    confidence: float
    flags: tuple[str, ...]

    @classmethod
    def read(cls, sync: Mapping[str, Any] | None) -> Sync | None:
        if sync is None:
            return None
        return cls(float(sync["offset_frames"]), float(sync["confidence"]), tuple(sync["flags"]))


@dataclass(frozen=True)
class Thresholds:
    """The bounds the report flagged against (`config.Thresholds` and the render's loudness target)."""

    max_offset_frames: float
    min_confidence: float
    max_wer: float
    max_stretch: float
    max_duration_ratio: float
    max_start_shift_ms: int
    max_overflow_ms: int
    loudness_tolerance_lu: float
    max_true_peak_dbtp: float
    target_lufs: float
    max_duration_diff_s: float
    max_ocr_asr_cer: float = 0.5  # absent from reports before schema 4


@dataclass(frozen=True)
class BrokenRule:
    """A timed-text rule a cue of the line breaks: the cue's figure against the rule's limit."""

    rule: str
    start_ms: int
    value: float
    limit: float


@dataclass(frozen=True)
class Subtitle:
    text: str
    condensed: bool
    broken: tuple[BrokenRule, ...]


@dataclass(frozen=True)
class SourceAsr:
    """The source speech as recognised over a line read from burned-in subtitles, and its error against them."""

    text: str
    cer: float


@dataclass(frozen=True)
class SpokenVersion:
    """Which of a line's versions the dub speaks (0: the editor's own text), of how many, its kind, and why."""

    spoken: int
    of: int
    kind: str
    choice: str


@dataclass(frozen=True)
class Line:
    id: str
    speaker: str
    text: str
    translation: str
    original: Span | None
    planned: Span | None
    dubbed: Span | None
    stretch: float | None
    speed: float | None
    overflow_ms: int | None
    duration_ratio: float | None
    heard: str
    wer: float
    before: Sync | None
    after: Sync | None
    flags: tuple[str, ...]
    sample: str | None
    subtitle: Subtitle | None
    source_asr: SourceAsr | None = None
    version: SpokenVersion | None = None

    @property
    def start_shift_ms(self) -> int | None:
        """The dubbed start against the planned one (the source line's in reports without a plan)."""
        planned = self.planned or self.original
        if planned is None or self.dubbed is None:
            return None
        return self.dubbed.start_ms - planned.start_ms

    @property
    def span(self) -> Span | None:
        """Where the line sounds: its dubbed speech, else its source slot."""
        return self.dubbed or self.original


@dataclass(frozen=True)
class Shot:
    index: int
    start_s: float
    end_s: float
    before: Sync | None
    after: Sync | None


@dataclass(frozen=True)
class Loudness:
    integrated_lufs: float
    loudness_range_lu: float
    true_peak_dbtp: float
    ok: bool


@dataclass(frozen=True)
class Durations:
    """Stream lengths in seconds; video_s is None for an audio-only dub."""

    original_s: float
    video_s: float | None
    audio_s: float
    ok: bool
    video_ok: bool
    audio_ok: bool


@dataclass(frozen=True)
class Episode:
    durations: Durations
    loudness: Loudness
    sync_before: Sync | None
    sync_after: Sync | None
    lines_total: int
    lines_flagged: int
    flags: tuple[str, ...]

    @property
    def sync_ok(self) -> bool:
        """The dubbed picture's sync over the episode keeps its bounds (no face measured: nothing broken)."""
        return self.sync_after is None or not self.sync_after.flags

    @property
    def ok(self) -> bool:
        return not self.lines_flagged and not self.flags


@dataclass(frozen=True)
class Waveform:
    """Peak level per time bin, 0..1."""

    bin_s: float
    original: tuple[float, ...]
    dubbed: tuple[float, ...]


@dataclass(frozen=True)
class Mouth:
    """The dubbed picture's mouth opening (None: no face) and the dubbed speech envelope, both 0..1."""

    times_s: tuple[float, ...]
    opening: tuple[float | None, ...]
    envelope: tuple[float, ...]


@dataclass(frozen=True)
class Report:
    schema: str
    original: str
    dubbed: str
    script: str | None
    source_language: str
    target_language: str
    thresholds: Thresholds
    episode: Episode
    shots: tuple[Shot, ...]
    lines: tuple[Line, ...]
    waveform: Waveform
    mouth: Mouth
    side_by_side: str | None

    @property
    def dubbed_name(self) -> str:
        return Path(self.dubbed).name


def read(report: Mapping[str, Any]) -> Report:
    """The view of a report mapping (as `report.json` holds it; see `report.schema.json`)."""
    clips = {clip["line"]: clip["path"] for clip in reversed(report["samples"]["clips"])}  # a line's first clip
    plots = report["plots"]
    return Report(
        schema=report["schema"],
        original=str(report["original"]),
        dubbed=str(report["dubbed"]),
        script=report.get("script"),
        source_language=report["languages"]["source"],
        target_language=report["languages"]["target"],
        thresholds=Thresholds(**report["thresholds"]),
        episode=read_episode(report["episode"]),
        shots=tuple(
            Shot(s["index"], s["start_s"], s["end_s"], Sync.read(s["sync"]["before"]), Sync.read(s["sync"]["after"]))
            for s in report["shots"]
        ),
        lines=tuple(read_line(line, clips.get(line["id"])) for line in report["lines"]),
        waveform=Waveform(
            plots["waveform"]["bin_s"], tuple(plots["waveform"]["original"]), tuple(plots["waveform"]["dubbed"])
        ),
        mouth=Mouth(
            tuple(plots["mouth"]["times_s"]), tuple(plots["mouth"]["opening"]), tuple(plots["mouth"]["envelope"])
        ),
        side_by_side=report["samples"]["side_by_side"],
    )


def read_episode(episode: Mapping[str, Any]) -> Episode:
    return Episode(
        durations=Durations(**episode["duration"]),
        loudness=Loudness(**episode["loudness"]),
        sync_before=Sync.read(episode["sync"]["before"]),
        sync_after=Sync.read(episode["sync"]["after"]),
        lines_total=episode["lines"]["total"],
        lines_flagged=episode["lines"]["flagged"],
        flags=tuple(episode["flags"]),
    )


def read_line(line: Mapping[str, Any], clip: str | None) -> Line:
    """One line; its sample is its own, else the clip the samples list gives it."""
    subtitle = line.get("subtitle")
    heard_source = line.get("source_asr")
    return Line(
        id=line["id"],
        speaker=line["speaker"],
        text=line["text"],
        translation=line["translation"],
        original=Span.read(line["original"]),
        planned=Span.read(line.get("planned")),
        dubbed=Span.read(line["dubbed"]),
        stretch=line["stretch"],
        speed=line["speed"],
        overflow_ms=line["overflow_ms"],
        duration_ratio=line["duration_ratio"],
        heard=line["asr"]["text"],
        wer=line["asr"]["wer"],
        before=Sync.read(line["sync"]["before"]),
        after=Sync.read(line["sync"]["after"]),
        flags=tuple(line["flags"]),
        sample=line.get("sample") or clip,
        subtitle=None
        if not subtitle
        else Subtitle(subtitle["text"], subtitle["condensed"], tuple(BrokenRule(**b) for b in subtitle["broken"])),
        source_asr=None if heard_source is None else SourceAsr(heard_source["text"], heard_source["cer"]),
        version=SpokenVersion(**line["version"]) if line.get("version") else None,
    )
