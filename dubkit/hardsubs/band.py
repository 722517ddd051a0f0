"""Finding the band of burned-in subtitles: rows of the picture where sharp text appears often, centred, and
whose content changes over time (a sign, a logo or a watermark stays the same, so it is no band).

Text is found by its strokes: burned subtitles are drawn with hard, high-contrast edges (an outline, a shadow),
which camera footage rarely has in bulk. Frames are sampled a few per second, scaled down; nothing is read.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dubkit import media

log = logging.getLogger(__name__)

ANALYSIS_HEIGHT = 640  # frames are scaled to this height to find the band
SAMPLES_PER_S = 4.0
MAX_SAMPLES = 240  # a long video is sampled more sparsely, never more than this in all
EDGE_STEP = 80  # a luma step (0–255) between neighbouring pixels this sharp is a stroke's edge
ROW_DENSITY = 0.04  # a row holds text in a frame when this share of its pixels more than usual are stroke edges
BACKGROUND = 10  # "usual": this percentile over the samples (text is absent from at least that many)
MIN_PRESENCE = 0.15  # a band's rows hold text in at least this share of the samples
MIN_HEIGHT, MAX_HEIGHT = 0.015, 0.2  # a band's height, as a share of the picture's
MAX_OFF_CENTRE = 0.06  # the text's centre lies this close to the picture's (share of its width), in the median
MIN_CHANGES = 2  # the text changes at least this often between samples that hold text
MARGIN = 0.35  # the band grows by this share of its height above and below (outlines, descenders)


@dataclass(frozen=True)
class Band:
    """Rows `top` to `bottom` (exclusive) of a `width` × `height` picture, in the video's own pixels, where
    subtitles are burned in; `presence` is the share of sampled frames that showed text there, `changes` how
    often it changed between them."""

    top: int
    bottom: int
    width: int
    height: int
    presence: float
    changes: int


def edge_map(rgb: np.ndarray) -> np.ndarray:
    """Where a picture has a sharp horizontal luma step (a stroke's left or right edge): bool (height, width)."""
    luma = rgb.astype(np.int16) @ np.array([77, 150, 29], dtype=np.int16) >> 8
    edges = np.zeros(luma.shape, dtype=bool)
    edges[:, 1:] = np.abs(np.diff(luma, axis=1)) >= EDGE_STEP
    return edges


def differs(before: np.ndarray, after: np.ndarray, overlap: float = 0.8) -> bool:
    """Whether two edge maps of the same band show different text: less than *overlap* of one's edges are edges
    of the other too (the same text keeps nearly all of them through encoding; new or vanished text, few)."""
    if not before.any() or not after.any():
        return bool(before.any() != after.any())
    shared = (before & after).sum()
    return bool(min(shared / before.sum(), shared / after.sum()) < overlap)


def find_band(video: Path) -> Band | None:
    """The band where subtitles are burned into *video*, or None when it has none."""
    info = media.probe(video)
    total = max(1, round(info.duration_s * info.fps)) if info.fps else 1
    step = max(1, round(info.fps / SAMPLES_PER_S) if info.fps else 1, -(-total // MAX_SAMPLES))
    maps = [edge_map(frame.rgb) for frame in media.video_frames(video, ANALYSIS_HEIGHT, only=range(0, total, step))]
    if len(maps) < MIN_CHANGES + 1:
        return None
    edges = np.stack(maps)
    height, width = edges.shape[1:]
    best: Band | None = None
    for top, bottom in _candidate_rows(edges):
        band = _judge(edges[:, top:bottom], top, bottom, width, height)
        if band is not None and (best is None or band.changes > best.changes):
            best = band
    if best is None:
        return None
    scale = info.height / height if info.height else 1.0
    margin = (best.bottom - best.top) * MARGIN
    top, bottom = (
        max(0, int((best.top - margin) * scale)),
        min(info.height, int(-(-(best.bottom + margin) * scale // 1))),
    )
    log.info("subtitle band: rows %d–%d of %d (%d changes)", top, bottom, info.height, best.changes)
    return Band(top, bottom, info.width, info.height, best.presence, best.changes)


def _candidate_rows(edges: np.ndarray) -> list[tuple[int, int]]:
    """Runs of rows that hold text in enough samples, small gaps (between two lines of text) bridged."""
    height = edges.shape[1]
    density = edges.mean(axis=2)
    above = density - np.percentile(density, BACKGROUND, axis=0) >= ROW_DENSITY
    presence = above.mean(axis=0) >= MIN_PRESENCE
    runs: list[tuple[int, int]] = []
    gap = max(1, round(height * 0.01))
    for row in np.flatnonzero(presence):
        if runs and row - runs[-1][1] <= gap:
            runs[-1] = (runs[-1][0], int(row) + 1)
        else:
            runs.append((int(row), int(row) + 1))
    return [(top, bottom) for top, bottom in runs if MIN_HEIGHT * height <= bottom - top <= MAX_HEIGHT * height]


def _judge(band: np.ndarray, top: int, bottom: int, width: int, height: int) -> Band | None:
    """The rows as a Band when their text is centred and changes over time, else None."""
    density = band.mean(axis=(1, 2))
    showing = np.flatnonzero(density - np.percentile(density, BACKGROUND) >= ROW_DENSITY / 2).tolist()
    if len(showing) < MIN_PRESENCE * len(band):
        return None
    columns = band.sum(axis=1)
    text_columns = columns - np.percentile(columns, BACKGROUND, axis=0) >= 2
    centres = []
    for index in showing:
        found = np.flatnonzero(text_columns[index])
        centres.append((found[0] + found[-1]) / 2 if found.size else 0.0)
    if abs(float(np.median(centres)) - width / 2) > MAX_OFF_CENTRE * width:
        return None
    changes = sum(differs(band[a], band[b]) for a, b in zip(showing, showing[1:], strict=False))
    if changes < MIN_CHANGES:
        return None
    return Band(top, bottom, width, height, len(showing) / len(band), changes)
