"""Finding the band of burned-in subtitles: rows of the picture where sharp text appears often, centred, set in
lines wider than they are tall, and whose content changes over time (a sign, a logo or a watermark stays the same,
so it is no band; a title card set vertically is a column, not a line).

Text is found by its strokes: burned subtitles are drawn with hard, high-contrast edges (an outline, a shadow),
which camera footage rarely has in bulk. Frames are sampled a few per second, scaled down, their luma alone;
nothing is read. Edges that stay put through most samples (a sign, a logo, still detail) are set aside first, and a
row is judged against its usual edges, which in a dialogue-dense episode (subtitles on screen in nearly every
sample) are not the text itself. Where two bands qualify (subtitles at the bottom, captions at the top), the one
whose text changes most is taken, as speech changes it, and the other is named in the log.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dubkit import media

log = logging.getLogger(__name__)
VERSION = 2  # bump when a change here changes the bytes of a cache entry (see dubkit.cache)

ANALYSIS_HEIGHT = 640  # frames are scaled to this height to find the band
SAMPLES_PER_S = 4.0
MAX_SAMPLES = 240  # a long video is sampled more sparsely, never more than this in all
EDGE_STEP = 64  # a luma step (0–255) between neighbouring pixels this sharp is a stroke's edge (anti-aliased, scaled)
CENTRAL = 0.6  # rows are judged on the picture's central share of columns (centred text always reaches into it)
ROW_DENSITY = 0.04  # a row holds text in a frame when this share of its pixels more than usual are stroke edges
BACKGROUND = 10  # "usual": this percentile over the samples (text is absent from at least that many)…
MAX_BACKGROUND = 0.05  # …but at most this share of the pixels (subtitles may be shown in nearly every sample)
PERSISTENT = 0.8  # a pixel that is a stroke edge in this share of the samples belongs to the scene, not subtitles
MIN_PRESENCE = 0.15  # a band's rows hold text in at least this share of the samples
MIN_HEIGHT, MAX_HEIGHT = 0.015, 0.2  # a band's height, as a share of the picture's
MAX_OFF_CENTRE = 0.06  # the text's centre lies this close to the picture's (share of its width), in the median
MIN_ASPECT = 1.5  # the text is at least this many times wider than the band is tall, in the median (a line)
MIN_CHANGES = 2  # text appears or changes at least this often between samples, showing at least two texts
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # BT.601 weights: luma from RGB, 0–255
MARGIN = 0.35  # the band grows by this share of its height above and below (outlines, descenders)


@dataclass(frozen=True)
class Band:
    """Rows `top` to `bottom` (exclusive) of a `width` × `height` picture, in the video's own pixels, where
    subtitles are burned in; `presence` is the share of sampled frames that showed text there, `changes` how
    often text appeared or changed between them."""

    top: int
    bottom: int
    width: int
    height: int
    presence: float
    changes: int


def edge_map(rgb: np.ndarray) -> np.ndarray:
    """Where a picture (RGB, or its luma alone) has a sharp horizontal luma step (a stroke's left or right edge):
    bool (height, width)."""
    luma = rgb @ LUMA if rgb.ndim == 3 else rgb.astype(np.float32)
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
    every_s = max(1 / SAMPLES_PER_S, info.duration_s / MAX_SAMPLES)
    maps = [edge_map(frame.rgb) for frame in media.sampled_frames(video, every_s, ANALYSIS_HEIGHT, gray=True)]
    if len(maps) < MIN_CHANGES + 1:
        return None
    edges = _transient(np.stack(maps))
    height, width = edges.shape[1:]
    texty = _text_rows(edges)
    if not texty.any():
        log.debug("no subtitle band: no row ever shows text")
        return None
    bands = sorted(
        (band for rows in _candidate_rows(texty) if (band := _judge(edges, texty, rows)) is not None),
        key=lambda band: band.changes,
        reverse=True,
    )
    if not bands:
        return None
    scale = info.height / height if info.height else 1.0
    chosen, *others = (_scaled(band, scale, info.width, info.height) for band in bands)
    for other in others:
        log.info("second text band at rows %d–%d (%d changes) left alone", other.top, other.bottom, other.changes)
    log.info("subtitle band: rows %d–%d of %d (%d changes)", chosen.top, chosen.bottom, info.height, chosen.changes)
    return chosen


def _text_rows(edges: np.ndarray) -> np.ndarray:
    """Per sample and row (bool samples × rows): the row's central columns hold more stroke edges than usual."""
    width = edges.shape[2]
    side = round(width * (1 - CENTRAL) / 2)
    density = edges[:, :, side : width - side].mean(axis=2)
    return density - _usual(density) >= ROW_DENSITY


def _usual(counts: np.ndarray, cap: float = MAX_BACKGROUND) -> np.ndarray:
    """How many stroke edges each row (or column) of *counts* (samples × rows) usually holds: its `BACKGROUND`
    percentile over the samples, at most *cap*. Subtitles shown nearly all the time (a dialogue-dense episode)
    are their own percentile; the cap keeps them text, and background detail as busy is told apart later (it
    never changes, or changes all the time)."""
    return np.minimum(np.percentile(counts, BACKGROUND, axis=0), cap)


def _transient(edges: np.ndarray) -> np.ndarray:
    """*edges* without those at pixels that are a stroke edge in most samples (`PERSISTENT`): a sign, a logo, a
    watermark or still background detail, not text that changes."""
    return edges & ~(edges.mean(axis=0) >= PERSISTENT)


def _candidate_rows(texty: np.ndarray) -> list[tuple[int, int]]:
    """Runs of rows that hold text in enough samples, small gaps bridged, each grown over the rows next to it that
    hold text only while it does (the other line of a two-line cue); distinct runs of a plausible height, none
    inside a taller block that shows text together (a column of characters set vertically, a paragraph)."""
    height = texty.shape[1]
    runs = _runs(np.flatnonzero(texty.mean(axis=0) >= MIN_PRESENCE), gap=max(1, round(height * 0.01)))
    grown = {_grown(texty, top, bottom) for top, bottom in runs}
    blocks = [(top, bottom) for top, bottom in grown if bottom - top > MAX_HEIGHT * height]
    return sorted(
        (top, bottom)
        for top, bottom in grown
        if MIN_HEIGHT * height <= bottom - top <= MAX_HEIGHT * height
        and not any(a <= top and bottom <= b for a, b in blocks)
    )


def _runs(rows: np.ndarray, gap: int) -> list[tuple[int, int]]:
    """Sorted row numbers as (top, bottom exclusive) runs, gaps of up to *gap* rows bridged."""
    runs: list[tuple[int, int]] = []
    for row in rows.tolist():
        if runs and row - runs[-1][1] <= gap:
            runs[-1] = (runs[-1][0], row + 1)
        else:
            runs.append((row, row + 1))
    return runs


def _grown(texty: np.ndarray, top: int, bottom: int) -> tuple[int, int]:
    """Rows *top*–*bottom*, their sparse edge rows trimmed (background detail next to the text), grown up and
    down over rows that show text often (in a quarter as many samples as the busiest row here), and far more
    often while these rows do than while they do not (the other line of a two-line cue, not background detail
    busy whatever the subtitles do); gaps of up to a line's spacing between them bridged."""
    counts = texty.sum(axis=0)
    core = np.flatnonzero(counts[top:bottom] >= counts[top:bottom].max() / 2)
    top, bottom = top + int(core[0]), top + int(core[-1]) + 1
    showing = texty[:, top:bottom].any(axis=1)
    together, apart = texty[showing].sum(axis=0), texty[~showing].sum(axis=0)
    often = together >= max(3, counts[top:bottom].max() / 4)
    follows = often & (apart / max(1, (~showing).sum()) < together / showing.sum() / 3)
    reach = round((bottom - top) * 0.6) + 1
    height = texty.shape[1]
    while top > 0 and (found := np.flatnonzero(follows[max(0, top - reach) : top])).size:
        top = max(0, top - reach) + int(found[0])
    while bottom < height and (found := np.flatnonzero(follows[bottom : bottom + reach])).size:
        bottom = bottom + int(found[-1]) + 1
    return top, bottom


def _judge(edges: np.ndarray, texty: np.ndarray, rows: tuple[int, int]) -> Band | None:
    """The rows as a Band (in analysis pixels) when their text is a centred line and changes over time, else
    None."""
    top, bottom = rows
    count, height, width = edges.shape
    band = edges[:, top:bottom]
    showing = np.flatnonzero(texty[:, top:bottom].mean(axis=1) >= 0.25)
    if len(showing) < MIN_PRESENCE * count:
        return None
    columns = band.sum(axis=1)
    text_columns = columns - _usual(columns, MAX_BACKGROUND * (bottom - top)) >= 2
    extents = [_extent(text_columns[index]) for index in showing]
    centre = float(np.median([(left + right) / 2 for left, right in extents]))
    if abs(centre - width / 2) > MAX_OFF_CENTRE * width:
        log.debug("text at rows %d–%d is off centre (%.0f of %d)", top, bottom, centre, width)
        return None
    if np.median([right - left for left, right in extents]) < MIN_ASPECT * (bottom - top):
        log.debug("text at rows %d–%d is narrower than a line (a column?)", top, bottom)
        return None
    changes, texts, holds = _changes(band, set(showing.tolist()))
    if changes < MIN_CHANGES or texts < 2:
        log.debug("text at rows %d–%d changes too little (%d changes, %d texts)", top, bottom, changes, texts)
        return None
    if holds < changes:
        log.debug(
            "rows %d–%d change more often than they hold still (%d, %d): motion, not text", top, bottom, changes, holds
        )
        return None
    return Band(top, bottom, width, height, len(showing) / count, changes)


def _extent(text_columns: np.ndarray) -> tuple[float, float]:
    """The leftmost and rightmost column of a row of text, stray columns (background detail) aside: the 5th and
    95th percentile of the text columns."""
    found = np.flatnonzero(text_columns)
    if not found.size:
        return 0.0, 0.0
    left, right = np.percentile(found, [5, 95])
    return float(left), float(right) + 1


def _changes(band: np.ndarray, showing: set[int]) -> tuple[int, int, int]:
    """How often text appears or changes from sample to sample, how many different texts the band shows (up to
    two), and how often it holds the same text from one sample to the next (a subtitle stays for seconds)."""
    texts: list[np.ndarray] = []
    changes, holds, previous = 0, 0, False
    for index, edges in enumerate(band):
        now = index in showing
        if now and index and (not previous or differs(band[index - 1], edges)):
            changes += 1
        elif now and previous:
            holds += 1
        if now and len(texts) < 2 and not any(not differs(text, edges) for text in texts):
            texts.append(edges)  # two different texts are enough to tell: no need to compare with more
        previous = now
    return changes, len(texts), holds


def _scaled(band: Band, scale: float, width: int, height: int) -> Band:
    """*band* in the video's own pixels, grown by the margin."""
    margin = (band.bottom - band.top) * MARGIN
    top = max(0, int((band.top - margin) * scale))
    bottom = min(height, int(-(-(band.bottom + margin) * scale // 1)))
    return Band(top, bottom, width, height, band.presence, band.changes)
