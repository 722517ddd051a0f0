"""The QA page's plots as geometry: a timeline of the lines per speaker, the waveforms, mouth against speech.

Everything here is numbers in SVG user units (each plot is `PLOT_WIDTH` wide and scales to the page); the
template `qa.html.j2` draws them. Every plot shares one time axis, so the plots and the timeline line up by eye,
and shades the lines the report flagged.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from dubkit.qa.view import Line, Report

# Okabe-Ito colours minus vermillion (red is kept for flags), then greys.
SPEAKER_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#8C6D1F", "#5D5D5D", "#B8A000")
FLAG_RED = "#C62828"
ORIGINAL_COLOUR = "#5D6B7A"
DUBBED_COLOUR = "#0072B2"
OPENING_COLOUR = "#009E73"
ENVELOPE_COLOUR = "#E69F00"

PLOT_WIDTH = 1200
LABEL_WIDTH = 110
PLOT_RIGHT_PAD = 12
MAX_PLOT_POINTS = 1000


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Tick:
    x: float
    label_s: float


@dataclass(frozen=True)
class Grid:
    """The plot area (left to right of the label column, top to bottom) and its time ticks: a grid line, a label."""

    left: float
    right: float
    top: float
    bottom: float
    ticks: tuple[Tick, ...]


@dataclass(frozen=True)
class Band:
    """A flagged line's span shaded behind a plot."""

    line: Line
    box: Box


@dataclass(frozen=True)
class Lane:
    label: str
    colour: str
    centre: float
    box: Box


@dataclass(frozen=True)
class Bar:
    """One line on the timeline: its source slot, its dubbed speech (height = stretch), a mark when flagged."""

    line: Line
    colour: str
    slot: Box | None
    bar: Box | None
    flag_mark: str | None  # an SVG path: the ▼ above a flagged bar


@dataclass(frozen=True)
class Timeline:
    height: float
    grid: Grid
    lanes: tuple[Lane, ...]
    bars: tuple[Bar, ...]


@dataclass(frozen=True)
class Trace:
    """A filled waveform envelope or a line (an SVG path) in its colour."""

    colour: str
    path: str
    filled: bool = False


@dataclass(frozen=True)
class Label:
    """Text in the label column left of the plot, at height y (colour None: the muted default)."""

    text: str
    y: float
    colour: str | None = None


@dataclass(frozen=True)
class Plot:
    height: float
    grid: Grid
    bands: tuple[Band, ...]
    traces: tuple[Trace, ...]
    labels: tuple[Label, ...]
    gaps: tuple[Box, ...] = ()  # no face in view
    baselines: tuple[float, ...] = ()  # y of the horizontal axes


def speaker_colours(lines: Sequence[Line]) -> dict[str, str]:
    """A colour per speaker, in order of first line."""
    speakers = list(dict.fromkeys(line.speaker for line in lines))
    return {speaker: SPEAKER_COLOURS[i % len(SPEAKER_COLOURS)] for i, speaker in enumerate(speakers)}


def episode_length_s(report: Report) -> float:
    """The time axis: long enough for the media, every line and every plot point."""
    durations = report.episode.durations
    ends = [durations.original_s, durations.audio_s, durations.video_s or 0.0]
    ends += [span.end_ms / 1000.0 for line in report.lines for span in (line.original, line.dubbed) if span]
    waveform = report.waveform
    ends.append(waveform.bin_s * max(len(waveform.original), len(waveform.dubbed)))
    if report.mouth.times_s:
        ends.append(max(report.mouth.times_s))
    return max(max(ends), 1.0)


def tick_step_s(length_s: float, target_ticks: int = 10) -> float:
    for step in (0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600):
        if length_s / step <= target_ticks:
            return float(step)
    return 3600.0 * math.ceil(length_s / 3600 / target_ticks)


class TimeAxis:
    """Maps episode seconds onto the SVG's x range (after the label column)."""

    def __init__(self, length_s: float) -> None:
        self.length_s = length_s
        self.x0 = LABEL_WIDTH
        self.x1 = PLOT_WIDTH - PLOT_RIGHT_PAD

    def x(self, seconds: float) -> float:
        return self.x0 + (self.x1 - self.x0) * min(max(seconds, 0.0), self.length_s) / self.length_s

    def grid(self, top: float, bottom: float) -> Grid:
        step = tick_step_s(self.length_s)
        count = int(self.length_s / step + 1e-9)
        return Grid(self.x0, self.x1, top, bottom, tuple(Tick(self.x(i * step), i * step) for i in range(count + 1)))

    def box(self, start_ms: float, end_ms: float, top: float, height: float, min_width: float = 1) -> Box:
        x0, x1 = self.x(start_ms / 1000), self.x(end_ms / 1000)
        return Box(x0, top, max(x1 - x0, min_width), height)


def stretch_height(stretch: float | None, max_stretch: float, row_height: float) -> float:
    """Bar height in a timeline row: a third of the row at no stretch, the full row at the limit or beyond."""
    if stretch is None or stretch <= 0:
        return row_height * 0.33
    amount = abs(math.log(stretch))
    limit = abs(math.log(max_stretch)) or 1.0
    return row_height * (0.33 + 0.67 * min(amount / limit, 1.0))


def timeline(report: Report) -> Timeline:
    """One lane per speaker, one bar per line."""
    colours = speaker_colours(report.lines)
    axis = TimeAxis(episode_length_s(report))
    row_height, gap, top = 30.0, 8.0, 16.0
    bottom = top + max(len(colours), 1) * (row_height + gap)
    lane_top = {speaker: top + row * (row_height + gap) for row, speaker in enumerate(colours)}
    lanes = tuple(
        Lane(
            speaker[:16],
            colour,
            lane_top[speaker] + row_height / 2,
            Box(axis.x0, lane_top[speaker], axis.x1 - axis.x0, row_height),
        )
        for speaker, colour in colours.items()
    )
    max_stretch = report.thresholds.max_stretch
    bars = tuple(
        timeline_bar(line, axis, lane_top[line.speaker], row_height, colours[line.speaker], max_stretch)
        for line in report.lines
    )
    return Timeline(bottom + 24, axis.grid(top - 6, bottom), lanes, bars)


def timeline_bar(line: Line, axis: TimeAxis, lane_y: float, row_height: float, colour: str, max_stretch: float) -> Bar:
    slot = None
    if line.original is not None:
        slot = axis.box(line.original.start_ms, line.original.end_ms, lane_y + 1, row_height - 2)
    bar, mark = None, None
    if line.span is not None:
        height = stretch_height(line.stretch, max_stretch, row_height)
        bar = axis.box(line.span.start_ms, line.span.end_ms, lane_y + row_height - height, height, min_width=2)
        if line.flags:
            mid = (axis.x(line.span.start_ms / 1000) + axis.x(line.span.end_ms / 1000)) / 2
            mark = f"M{mid - 5:.1f},{lane_y - 7:.1f} L{mid + 5:.1f},{lane_y - 7:.1f} L{mid:.1f},{lane_y:.1f} Z"
    return Bar(line, colour, slot, bar, mark)


def flagged_bands(report: Report, axis: TimeAxis, top: float, bottom: float) -> tuple[Band, ...]:
    """Light red bands behind a plot where flagged lines are."""
    return tuple(
        Band(line, axis.box(line.span.start_ms, line.span.end_ms, top, bottom - top))
        for line in report.lines
        if line.flags and line.span is not None
    )


def bucket_peaks(values: Sequence[float], count: int) -> list[float]:
    """*values* reduced to at most *count* points, keeping each bucket's peak (a waveform stays honest)."""
    if len(values) <= count:
        return [float(v) for v in values]
    size = len(values) / count
    return [max(values[int(i * size) : max(int((i + 1) * size), int(i * size) + 1)]) for i in range(count)]


def bucket_means(
    times: Sequence[float], values: Sequence[float | None], count: int
) -> list[tuple[float, float | None]]:
    """(time, value) reduced to at most *count* points by averaging; a bucket with no value stays None (a gap)."""
    points = list(zip(times, values, strict=False))
    if len(points) <= count:
        return [(float(t), None if v is None else float(v)) for t, v in points]
    size = len(points) / count
    reduced = []
    for i in range(count):
        bucket = points[int(i * size) : max(int((i + 1) * size), int(i * size) + 1)]
        present = [v for _, v in bucket if v is not None]
        reduced.append((bucket[0][0], sum(present) / len(present) if present else None))
    return reduced


def envelope_path(peaks: Sequence[float], bin_s: float, axis: TimeAxis, centre: float, half: float) -> str:
    """A closed path: the peaks above *centre* left to right, mirrored below right to left."""
    if not peaks:
        return ""
    upper = [(axis.x(i * bin_s), centre - half * min(max(p, 0.0), 1.0)) for i, p in enumerate(peaks)]
    upper.append((axis.x(len(peaks) * bin_s), upper[-1][1]))
    lower = [(x, 2 * centre - y) for x, y in reversed(upper)]
    coords = " L".join(f"{x:.1f},{y:.1f}" for x, y in upper + lower)
    return f"M{coords} Z"


def waveform(report: Report) -> Plot:
    """The original's and the dub's peak level, one mirrored row each."""
    axis = TimeAxis(episode_length_s(report))
    row_height, gap, top = 70.0, 14.0, 8.0
    bottom = top + 2 * row_height + gap
    traces, labels, centres = [], [], []
    for row, (name, colour) in enumerate((("original", ORIGINAL_COLOUR), ("dubbed", DUBBED_COLOUR))):
        values = getattr(report.waveform, name)
        peaks = bucket_peaks(values, MAX_PLOT_POINTS)
        bin_s = report.waveform.bin_s * len(values) / max(len(peaks), 1)
        centre = top + row * (row_height + gap) + row_height / 2
        traces.append(Trace(colour, envelope_path(peaks, bin_s, axis, centre, row_height / 2 - 2), filled=True))
        labels.append(Label(name, centre + 4, colour))
        centres.append(centre)
    return Plot(
        height=bottom + 24,
        grid=axis.grid(top, bottom),
        bands=flagged_bands(report, axis, top, bottom),
        traces=tuple(traces),
        labels=tuple(labels),
        baselines=tuple(centres),
    )


def polyline_segments(points: Sequence[tuple[float, float | None]], axis: TimeAxis, top: float, height: float) -> str:
    """An SVG path through the points, broken (a new M) at every None."""
    commands, pen_down = [], False
    for t, v in points:
        if v is None:
            pen_down = False
            continue
        x, y = axis.x(t), top + height * (1.0 - min(max(v, 0.0), 1.0))
        commands.append(f"{'L' if pen_down else 'M'}{x:.1f},{y:.1f}")
        pen_down = True
    return " ".join(commands)


def no_face_boxes(points: Sequence[tuple[float, float | None]], axis: TimeAxis, top: float, bottom: float) -> list[Box]:
    """Where the mouth opening is missing (no face in view)."""
    boxes, start = [], None
    for i, (t, v) in enumerate(points):
        if v is None and start is None:
            start = t
        if start is not None and (v is not None or i == len(points) - 1):
            x0, x1 = axis.x(start), axis.x(t)
            boxes.append(Box(x0, top, max(x1 - x0, 1), bottom - top))
            start = None
    return boxes


def mouth(report: Report) -> Plot:
    """The dubbed picture's mouth opening over the dubbed speech envelope, both 0..1."""
    axis = TimeAxis(episode_length_s(report))
    top, height = 8.0, 130.0
    bottom = top + height
    opening = bucket_means(report.mouth.times_s, report.mouth.opening, MAX_PLOT_POINTS)
    envelope = bucket_means(report.mouth.times_s, report.mouth.envelope, MAX_PLOT_POINTS)
    return Plot(
        height=bottom + 24,
        grid=axis.grid(top, bottom),
        bands=flagged_bands(report, axis, top, bottom),
        traces=(
            Trace(ENVELOPE_COLOUR, polyline_segments(envelope, axis, top, height)),
            Trace(OPENING_COLOUR, polyline_segments(opening, axis, top, height)),
        ),
        labels=(Label("1", top + 10), Label("0", bottom)),
        gaps=tuple(no_face_boxes(opening, axis, top, bottom)),
        baselines=(bottom,),
    )
