"""Reading a subtitle band into timed cues: every frame's band is compared with the previous one's (edge maps,
cheap), which splits the video into runs of unchanged text with frame-accurate bounds; each run that shows text is
read once, by a `TextReader`, from one of its frames. Neighbouring runs read alike are one cue (a flash of
background detail can split a run).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from dubkit import media
from dubkit.hardsubs.band import Band, differs, edge_map

if TYPE_CHECKING:
    from dubkit.backends.base import TextReader

log = logging.getLogger(__name__)

MIN_RUN_FRAMES = 3  # a shorter run is a transition (a fade, a cut under the text): not read
SHOWING = 0.01  # a band with this share of stroke-edge pixels may hold text (a run without any is not read)
SAMPLE_OFFSET = 2  # a run is read from its third frame (past any transition), or its last if shorter
MAX_MERGE_GAP = 2  # runs read alike with at most this many frames between them are one cue


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
    """A subtitle burned in from frame `first` to `end` (exclusive), i.e. from `start_s` to `end_s`."""

    first: int
    end: int
    start_s: float
    end_s: float
    text: str
    score: float


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
    """The band's subtitles as timed cues, in order; each run of unchanged text read once."""
    cues: list[Cue] = []
    reads = 0
    for run in text_runs(video, band):
        if not run.showing or run.end - run.first < MIN_RUN_FRAMES:
            continue
        lines = reader.read(run.picture)
        reads += 1
        text = "".join(line.text for line in lines).strip()
        if not text:
            continue
        score = min(line.score for line in lines)
        if cues and cues[-1].text == text and run.first - cues[-1].end <= MAX_MERGE_GAP:
            cues[-1] = Cue(cues[-1].first, run.end, cues[-1].start_s, run.end_s, text, min(score, cues[-1].score))
        else:
            cues.append(Cue(run.first, run.end, run.start_s, run.end_s, text, score))
    log.info("%d subtitle cues read (%d band pictures read)", len(cues), reads)
    return cues
