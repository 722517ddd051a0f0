"""Reading a subtitle band into timed cues: every frame's band is compared with the previous one's (edge maps,
cheap), which splits the video into runs of unchanged text with frame-accurate bounds; each run that shows text is
read once, by a `TextReader`, from one of its frames; its lines are joined in reading order into one text (two-line
cues, two speakers). Neighbouring runs read alike are one cue (a flash of background detail, a karaoke colour sweep
or a blink of the text can split a run).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from dubkit import media
from dubkit.hardsubs.band import Band, differs, edge_map

if TYPE_CHECKING:
    from dubkit.backends.base import TextLine, TextReader

log = logging.getLogger(__name__)
VERSION = 1  # bump when a change here changes the bytes of a cache entry (see dubkit.cache)

MIN_RUN_FRAMES = 3  # a shorter run is a transition (a fade, a cut under the text): not read
SHOWING = 0.01  # a band with this share of stroke-edge pixels may hold text (a run without any is not read)
SAMPLE_OFFSET = 2  # a run is read from its third frame (past any transition), or its last if shorter
MAX_MERGE_GAP = 2  # runs read alike with at most this many frames between them are one cue
ALIKE = 0.8  # two readings this similar (difflib's ratio) are one text read twice
MAX_FADE_FRAMES = 4  # at most this many frames of short runs before or after a cue are its fade in or out
FADE_SHARE = 0.5  # a short run showing this share of a cue's stroke edges is the cue fading in or out
PAD = 16  # pixels of the band's own border repeated around it before reading (a detector clips text at an edge)


@dataclass(frozen=True)
class TextRun:
    """Frames `first` to `end` (exclusive) show the same band content; `showing`: it holds text."""

    first: int
    end: int
    start_s: float
    end_s: float
    showing: bool
    picture: np.ndarray  # the band as shown in the run's sample frame (RGB)


@dataclass(frozen=True)
class Cue:
    """A subtitle burned in from frame `first` to `end` (exclusive), i.e. from `start_s` to `end_s`; `box` is
    where its text lies in the band's pixels (left, top, right, bottom: the union of the lines read), `lines` how
    many lines it is set on."""

    first: int
    end: int
    start_s: float
    end_s: float
    text: str
    score: float
    box: tuple[int, int, int, int] = (0, 0, 0, 0)
    lines: int = 1


def text_runs(video: Path, band: Band) -> Iterator[TextRun]:
    """The video split where the band's content changes (every frame decoded, the band cropped)."""
    frame_s = 1.0 / (media.probe(video).fps or 25.0)
    first, start_s, previous, showing = 0, 0.0, None, False
    picture = np.zeros((0, 0, 3), np.uint8)  # set from the first frame on
    last_time = 0.0
    for frame in media.video_frames(video):
        crop = frame.rgb[band.top : band.bottom]
        edges = edge_map(crop)
        if previous is not None and differs(previous, edges):
            yield TextRun(first, frame.index, start_s, frame.time_s, showing, picture)
            first, start_s = frame.index, frame.time_s
        if previous is None or frame.index - first <= SAMPLE_OFFSET:
            picture, showing = crop, bool(edges.mean() >= SHOWING)
        previous, last_time = edges, frame.time_s
        end = frame.index + 1
    if previous is not None:
        yield TextRun(first, end, start_s, last_time + frame_s, showing, picture)


def read_cues(video: Path, band: Band, reader: TextReader) -> list[Cue]:
    """The band's subtitles as timed cues, in order; each run of unchanged text read once. Runs too short to read
    that show most of a cue's text right before or after it (a fade in or out) are part of it, up to
    `MAX_FADE_FRAMES` each side."""
    cues: list[Cue] = []
    reads, read_end = 0, 0  # read_end: where the last cue's read runs end (before any fade out)
    text_edges = np.zeros((0, 0), bool)  # the last cue's stroke edges inside its box
    lead: list[TextRun] = []  # short runs showing something, just before the current run
    for run in text_runs(video, band):
        if run.showing and run.end - run.first < MIN_RUN_FRAMES:
            fade_out = cues and cues[-1].end == run.first and run.end - read_end <= MAX_FADE_FRAMES
            if fade_out and _fading(run, cues[-1].box, text_edges):
                cues[-1] = replace(cues[-1], end=run.end, end_s=run.end_s)
                continue
            lead = [*lead, run] if lead and lead[-1].end == run.first else [run]
            continue
        if run.showing and (cue := _cue(run, reader.read(_padded(run.picture)))) is not None:
            text_edges = _text_edges(run.picture, cue.box)
            if (fade_in := _fade_in(lead, run, cue.box, text_edges)) is not None:
                cue = replace(cue, first=fade_in.first, start_s=fade_in.start_s)
            if cues and alike(cues[-1].text, cue.text) and cue.first - cues[-1].end <= MAX_MERGE_GAP:
                cues[-1] = _merged(cues[-1], cue)
            else:
                cues.append(cue)
            read_end = run.end
        reads += run.showing
        lead = []
    log.info("%d subtitle cues read (%d band pictures read)", len(cues), reads)
    return cues


def joined(lines: list[TextLine]) -> str:
    """The lines' texts as one cue text, in reading order: Chinese or Japanese lines run on without a space, a
    space only between two Latin letters or digits."""
    text = ""
    for line in lines:
        piece = line.text.strip()
        if text and piece and text[-1].isascii() and text[-1].isalnum() and piece[0].isascii() and piece[0].isalnum():
            text += " "
        text += piece
    return text


def alike(first: str, second: str) -> bool:
    """Whether two readings are the same subtitle: equal, or nearly (a colour sweep or a flicker can change how a
    character or a punctuation mark is read)."""
    from difflib import SequenceMatcher

    return first == second or SequenceMatcher(None, first, second, autojunk=False).ratio() >= ALIKE


def rows(lines: list[TextLine]) -> int:
    """How many lines of text the boxes lie on (boxes whose vertical middles fall inside one another's height are
    one line, split by a wide gap)."""
    found: list[tuple[int, int]] = []
    for line in sorted(lines, key=lambda item: item.box[1] + item.box[3]):
        middle = (line.box[1] + line.box[3]) / 2
        if not any(top <= middle <= bottom for top, bottom in found):
            found.append((line.box[1], line.box[3]))
    return len(found)


def _text_edges(picture: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The stroke edges of *picture* inside *box*."""
    return edge_map(picture)[box[1] : box[3], box[0] : box[2]]


def _fading(run: TextRun, box: tuple[int, int, int, int], text_edges: np.ndarray) -> bool:
    """Whether *run* shows a cue's text part-way faded: at least `FADE_SHARE` of its stroke edges (a frame
    without the text keeps only what background detail lies behind the box)."""
    if not text_edges.any():
        return False
    shared = (_text_edges(run.picture, box) & text_edges).sum()
    return bool(shared >= FADE_SHARE * text_edges.sum())


def _fade_in(
    lead: list[TextRun], run: TextRun, box: tuple[int, int, int, int], text_edges: np.ndarray
) -> TextRun | None:
    """The first of the short runs right before *run* that show its text fading in, or None."""
    first: TextRun | None = None
    for before in reversed(lead):
        contiguous = before.end == (first or run).first and run.first - before.first <= MAX_FADE_FRAMES
        if not contiguous or not _fading(before, box, text_edges):
            break
        first = before
    return first


def _padded(picture: np.ndarray) -> np.ndarray:
    """The band with `PAD` pixels of its border repeated around it: a text detector whose box around a line
    reaches past the picture's edge splits the line in two, or misreads it."""
    return np.pad(picture, ((PAD, PAD), (PAD, PAD), (0, 0)), mode="edge")


def _cue(run: TextRun, lines: list[TextLine]) -> Cue | None:
    """The run as a cue: its lines joined, their boxes' union (back in the band's pixels)."""
    text = joined(lines)
    if not text:
        return None
    height, width = run.picture.shape[:2]
    box = (
        max(0, min(line.box[0] for line in lines) - PAD),
        max(0, min(line.box[1] for line in lines) - PAD),
        min(width, max(line.box[2] for line in lines) - PAD),
        min(height, max(line.box[3] for line in lines) - PAD),
    )
    score = min(line.score for line in lines)
    return Cue(run.first, run.end, run.start_s, run.end_s, text, score, box, rows(lines))


def _merged(before: Cue, after: Cue) -> Cue:
    """One cue over both runs: the text read with more confidence, the boxes' union."""
    best = before if before.score >= after.score else after
    box = (
        min(before.box[0], after.box[0]),
        min(before.box[1], after.box[1]),
        max(before.box[2], after.box[2]),
        max(before.box[3], after.box[3]),
    )
    score = min(before.score, after.score)
    return Cue(before.first, after.end, before.start_s, after.end_s, best.text, score, box, best.lines)
