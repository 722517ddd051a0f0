"""Subtitles of the translation under timed-text rules, written with pysubs2 (no hand-written formats).

Each dubbed line's text (the editor's `subtitle`, else its translation) becomes one or more cues (`linebreak.py`: at
most `max_lines` lines of `max_chars_per_line`, balanced, broken at punctuation). The cues share the line's dubbed
time in proportion to their text, and `spotting.py` times them as a subtitler would: a small lead-in, run-on into
the silence after the speech, time borrowed from neighbours within a bounded drift, two short lines shown as one
two-line cue; cues keep a gap of `min_gap_frames` frames of the video and last at most `max_duration_ms`. Where a
line's cues are still too fast to read, its text is condensed as a subtitler would (`condense.py`: hesitations,
fillers, repetitions, stutters; never a `subtitle` an editor wrote, never a word that carries meaning) and laid out
again. A rule that still cannot be kept is reported, for the editor to write a shorter `subtitle`.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dubkit.config import SubtitleConfig
from dubkit.fsutil import atomic_path
from dubkit.job import LineFit
from dubkit.script import Script
from dubkit.subtitles import condense, linebreak, spotting

FALLBACK_FPS = 25.0
VERSION = 2  # bump when a change here changes the bytes of a cache entry (see dubkit.cache)
FORMATS = {".srt": "srt", ".vtt": "vtt", ".ass": "ass", ".ssa": "ssa"}


@dataclass(frozen=True)
class Cue:
    line: str  # the id of the script line it shows
    start_ms: int
    end_ms: int
    lines: tuple[str, ...]

    @property
    def duration_ms(self) -> int:
        return self.end_ms - self.start_ms

    @property
    def chars(self) -> int:
        """Characters read, spaces and punctuation included (a line break counts as a space)."""
        return len(" ".join(self.lines))


@dataclass(frozen=True)
class Violation:
    """A rule a cue breaks: `rule` is the SubtitleConfig key, `value` the cue's figure against `limit`."""

    line: str
    start_ms: int
    rule: str
    value: float
    limit: float


@dataclass(frozen=True)
class Condensed:
    """A line whose subtitle was condensed (`dubkit.subtitles.condense`), and the text its cues show."""

    line: str
    text: str


@dataclass(frozen=True)
class Report:
    cues: int
    violations: tuple[Violation, ...] = ()
    condensed: tuple[Condensed, ...] = ()

    def counts(self) -> dict[str, int]:
        return {
            "subtitle_cues": self.cues,
            "subtitle_violations": len(self.violations),
            "subtitle_condensed": len(self.condensed),
        }

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Report:
        violations = tuple(Violation(**item) for item in data["violations"])
        return cls(int(data["cues"]), violations, tuple(Condensed(**item) for item in data.get("condensed", ())))


@dataclass(frozen=True)
class _Line:
    """A line to subtitle: the text it shows and where the dub speaks it."""

    id: str
    start_ms: int
    end_ms: int
    text: str
    speaker: str


def write(
    script: Script,
    fits: Sequence[LineFit],
    out: Path,
    rules: SubtitleConfig | None = None,
    fps: float = 0.0,
    end_ms: int | None = None,
) -> Report:
    """Cues of every translated line, laid out under *rules* (for the script's target language) and condensed
    where too fast to read (`condensed_layout`), written to *out* (format by suffix: .srt, .vtt, .ass); *end_ms*:
    the video's end, which the last cue may run up to."""
    import pysubs2

    rules = (rules or SubtitleConfig()).for_language(script.target_language)
    cues, condensed = condensed_layout(script, fits, rules, fps, end_ms)
    subs = pysubs2.SSAFile()
    for cue in cues:
        event = pysubs2.SSAEvent(start=cue.start_ms, end=cue.end_ms)
        event.plaintext = "\n".join(cue.lines)
        subs.append(event)
    with atomic_path(out) as tmp:
        subs.save(str(tmp), format_=FORMATS.get(out.suffix.lower(), "srt"))
    return Report(len(cues), tuple(check(cues, rules, fps)), condensed)


def gap_ms(rules: SubtitleConfig, fps: float) -> int:
    """The least gap between cues: `min_gap_frames` frames, rounded up to whole milliseconds."""
    return math.ceil(rules.min_gap_frames * 1000 / (fps if fps > 0 else FALLBACK_FPS))


def layout(
    script: Script, fits: Sequence[LineFit], rules: SubtitleConfig, fps: float = 0.0, end_ms: int | None = None
) -> list[Cue]:
    """The cues of every line with text to show, in time order, under *rules* (already for the target language), timed
    by `dubkit.subtitles.spotting`; *end_ms*: the video's end (else the last line's end plus `max_duration_ms`)."""
    lines = _dubbed_lines(script, fits)
    gap, frame = gap_ms(rules, fps), math.ceil(1000 / (fps if fps > 0 else FALLBACK_FPS))
    limit = end_ms if end_ms is not None else max((line.end_ms for line in lines), default=0) + rules.max_duration_ms
    slots = [slot for line in lines for slot in _slots(line, rules, gap)]
    timed = spotting.spot(slots, spotting.Timing(rules, gap, frame, limit))
    return [Cue(slot.line, start, end, slot.lines) for slot, start, end in timed]


def condensed_layout(
    script: Script, fits: Sequence[LineFit], rules: SubtitleConfig, fps: float = 0.0, end_ms: int | None = None
) -> tuple[list[Cue], tuple[Condensed, ...]]:
    """`layout`, with the text of each line whose cues break the reading speed condensed (`condense.py`) and laid
    out again, until no line left too fast can be condensed; a line with the editor's `subtitle` keeps it."""
    condensed: dict[str, str] = {}
    while True:
        shown = _with_subtitles(script, condensed)
        cues = layout(shown, fits, rules, fps, end_ms)
        too_fast = {v.line for v in check(cues, rules, fps) if v.rule == "max_chars_per_second"}
        fresh = _condensable(shown, too_fast - set(condensed))
        if not fresh:
            return cues, tuple(Condensed(line, text) for line, text in condensed.items())
        condensed |= fresh


def _condensable(script: Script, lines: set[str]) -> dict[str, str]:
    """Line id → condensed text, for those of *lines* without an editor's subtitle that condensing shortens."""
    found = {}
    for segment in script.segments:
        if segment.id in lines and not segment.subtitle:
            shorter = condense.condense(segment.translation, script.target_language)
            if shorter != segment.translation:
                found[segment.id] = shorter
    return found


def _with_subtitles(script: Script, texts: dict[str, str]) -> Script:
    """*script* with the `subtitle` of the lines in *texts* (line id → text) set to their text."""
    segments = tuple(dataclasses.replace(s, subtitle=texts[s.id]) if s.id in texts else s for s in script.segments)
    return dataclasses.replace(script, segments=segments)


def _dubbed_lines(script: Script, fits: Sequence[LineFit]) -> list[_Line]:
    """Lines with text to show (`Segment.shown`) in time order, each spanning the dub's speech (the source line's
    when it has no fit)."""
    spans = {fit.id: (fit.start_ms, fit.end_ms) for fit in fits}
    lines = []
    for segment in script.segments:
        text = " ".join(segment.shown.split())
        if text:
            start, end = spans.get(segment.id, (segment.start_ms, segment.end_ms))
            lines.append(_Line(segment.id, start, max(start, end), text, segment.speaker))
    return sorted(lines, key=lambda line: (line.start_ms, line.end_ms))


def cue_texts(text: str, span_ms: int, rules: SubtitleConfig, gap: int) -> list[tuple[str, ...]]:
    """*text* cut into cues (each a tuple of lines): as few as fit the limits, and enough that none has to
    stay up longer than `max_duration_ms` to cover *span_ms*."""
    limits = linebreak.Limits(rules.max_chars_per_line, rules.max_lines)
    tokens = linebreak.tokenize(text, rules.max_chars_per_line)
    at_least = math.ceil((span_ms + gap) / (rules.max_duration_ms + gap))
    groups = linebreak.split_cues(tokens, limits, at_least)
    return [tuple(linebreak.set_lines(group, limits)) for group in groups]


def _slots(line: _Line, rules: SubtitleConfig, gap: int) -> list[spotting.Slot]:
    """The cues of one line, each anchored to its share of the line's speech (shares in proportion to text)."""
    texts = cue_texts(line.text, line.end_ms - line.start_ms, rules, gap)
    chars = [len(" ".join(lines)) for lines in texts]
    span = line.end_ms - line.start_ms
    bounds = [line.start_ms + round(span * done / sum(chars)) for done in itertools.accumulate(chars, initial=0)]
    return [
        spotting.Slot(line.id, bounds[j], bounds[j + 1], tuple((line.speaker, text) for text in lines), len(texts) == 1)
        for j, lines in enumerate(texts)
    ]


def check(cues: Sequence[Cue], rules: SubtitleConfig, fps: float = 0.0) -> list[Violation]:
    """Every rule each cue breaks (a cue's gap is the one after it)."""
    found: list[Violation] = []
    gap = gap_ms(rules, fps)
    for index, cue in enumerate(cues):
        figures = [
            ("max_chars_per_line", max(len(text) for text in cue.lines), rules.max_chars_per_line, False),
            ("max_lines", len(cue.lines), rules.max_lines, False),
            ("max_chars_per_second", cue.chars * 1000 / max(cue.duration_ms, 1), rules.max_chars_per_second, False),
            ("min_duration_ms", cue.duration_ms, rules.min_duration_ms, True),
            ("max_duration_ms", cue.duration_ms, rules.max_duration_ms, False),
        ]
        if index + 1 < len(cues):
            figures.append(("min_gap_frames", cues[index + 1].start_ms - cue.end_ms, gap, True))
        for rule, value, limit, is_minimum in figures:
            if (value < limit) if is_minimum else (value > limit + 1e-9):
                found.append(Violation(cue.line, cue.start_ms, rule, round(float(value), 3), float(limit)))
    return found
