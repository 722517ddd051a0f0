"""Erasing burned-in subtitles: each cue's glyphs are found in the band and filled with what lies behind them.

Within one cue the text does not move, so its glyphs are where the band stays sharp and steady through the cue's
frames: luma steps present in most of them, widened over a stroke's fill and outline, kept where the luma is
steady (a moving background beside the text is no glyph). In each frame, the masked pixels that differ from a
clean frame (one just before or after the cue, without the text) are the glyphs, grown by a couple of pixels for
anti-aliasing and ringing. They are taken from the nearest clean frame, shifted tile by tile to match the
unmasked pixels around (a swaying body, a slow pan), where the background around them is still after the shift;
what is left, and everything where no clean frame was seen (a video that starts under a subtitle), is inpainted
from its surroundings (OpenCV's Telea) on the band's crop only. Rows outside the band are never written.

Frames come as an iterator (the H.264 splice decodes only some spans): one cue's frames are held at a time, a
long cue in pieces of `MAX_HELD` frames, with `CONTEXT` clean band crops before it and up to `CONTEXT` frames of
look-ahead after it.
"""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Iterable, Iterator, Sequence

import numpy as np

from dubkit import media
from dubkit.errors import MediaError
from dubkit.hardsubs.band import Band
from dubkit.hardsubs.cues import Cue

VERSION = 1  # bump when a change here changes the bytes of a cache entry (see dubkit.cache)
CONTEXT = 4  # clean frames kept before a cue, and read ahead after it, as references for the fill
MAX_HELD = 96  # a longer cue is erased in pieces of this many frames (memory: one piece of full frames)
MASK_SAMPLES = 12  # frames of a cue its glyph mask is found from
EDGE_STEP = 80  # a luma step (0–255) this sharp between neighbouring pixels is a stroke's edge
PERSISTENT = 0.6  # a pixel is a glyph's edge when it is a stroke edge in this share of the samples
STEADY = 30  # a glyph pixel's luma varies by at most this much (0–255) across the samples
STROKE = 0.06  # stroke edges are widened by this share of the band's height (the fill and the outline), ≥ 3 px
HALO = 2  # each frame's glyphs grow by this many pixels (anti-aliasing, shadow, the encoder's ringing)
CHANGED = 12  # a masked pixel is a glyph in a frame when its luma differs this much from a clean reference's
NOISE = 10  # a pixel differing from the reference by more than this (luma) has moved…
MOVED_SHARE = 0.1  # …and the background is still where fewer than this share of the pixels around have
UNCOVERED = 60  # a masked pixel this much brighter or darker (luma) in another frame is uncovered there…
UNCOVERED_SHARE = 0.05  # …and a frame where fewer than this share of the masked pixels are still shows the text
REACH = 0.25  # a reference is shifted by up to this share of the band's height to match a frame
MIN_SEEN = 0.2  # a tile with fewer unmasked pixels than this share is not shifted (too little to match on)
INPAINT_RADIUS = 3
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def erase(frames: Iterable[media.Frame], band: Band, cues: Sequence[Cue]) -> Iterator[np.ndarray]:
    """One RGB picture per frame, in order: a frame inside a cue with the cue's glyphs removed from the band,
    every other frame's picture unchanged. *frames* may start anywhere and skip cues; pixels outside the band's
    rows are always the frame's own."""
    ordered = sorted(cues, key=lambda cue: cue.first)
    starts = [cue.first for cue in ordered]
    before: deque[tuple[int, np.ndarray]] = deque(maxlen=CONTEXT)  # clean band crops (index, crop)
    held: list[media.Frame] = []  # the current cue's frames (or a piece of a long cue)
    after: list[media.Frame] = []  # clean frames read past it
    held_cue: Cue | None = None
    for frame in frames:
        if frame.rgb.shape[:2] != (band.height, band.width):
            size = f"{frame.rgb.shape[1]}x{frame.rgb.shape[0]}"
            raise MediaError(
                f"frame {frame.index}", f"{size} picture, the band was found in {band.width}x{band.height}"
            )
        cue = _cue_at(ordered, starts, frame.index)
        if held:
            follows = frame.index == held[-1].index + 1 + len(after)
            if follows and cue is held_cue and not after and len(held) < MAX_HELD:
                held.append(frame)
                continue
            if follows and cue is None:
                after.append(frame)
                if len(after) < CONTEXT:
                    continue
                yield from _release(held, after, before, band)
                held, after = [], []
                continue
            yield from _release(held, after, before, band)
            held, after = [], []
        if cue is None:
            before.append((frame.index, frame.rgb[band.top : band.bottom].copy()))
            yield frame.rgb
        else:
            held, held_cue = [frame], cue
    if held:
        yield from _release(held, after, before, band)


def _cue_at(ordered: Sequence[Cue], starts: Sequence[int], index: int) -> Cue | None:
    """The cue showing frame *index*, or None."""
    at = bisect.bisect_right(starts, index) - 1
    return ordered[at] if at >= 0 and index < ordered[at].end else None


def _release(
    held: list[media.Frame], after: list[media.Frame], before: deque[tuple[int, np.ndarray]], band: Band
) -> Iterator[np.ndarray]:
    """The held cue frames erased, then the clean frames read after them unchanged (these join *before*)."""
    crops = np.stack([frame.rgb[band.top : band.bottom] for frame in held])
    mask = glyph_mask(crops)
    shown = crops[len(crops) // 2] @ LUMA
    clean_after = [(frame.index, frame.rgb[band.top : band.bottom]) for frame in after]
    clean = [(index, crop) for index, crop in before if not _shows_glyphs(crop, shown, mask)][-1:]
    clean += [(index, crop) for index, crop in clean_after if not _shows_glyphs(crop, shown, mask)][:1]
    for frame, crop in zip(held, crops, strict=True):
        picture = frame.rgb.copy()
        nearest = sorted(clean, key=lambda reference: abs(reference[0] - frame.index))
        picture[band.top : band.bottom] = fill(crop, mask, [reference for _, reference in nearest])
        yield picture
    for frame in after:
        before.append((frame.index, frame.rgb[band.top : band.bottom].copy()))
        yield frame.rgb


def _edges(crop: np.ndarray) -> np.ndarray:
    """Sharp luma steps across and down: a stroke's edges on every side (bool, height, width); `band.edge_map`
    looks across only, which is enough to find a band but leaves a glyph's top and bottom out of its mask."""
    luma = crop @ LUMA
    edges = np.zeros(luma.shape, dtype=bool)
    edges[:, 1:] = np.abs(np.diff(luma, axis=1)) >= EDGE_STEP
    edges[1:, :] |= np.abs(np.diff(luma, axis=0)) >= EDGE_STEP
    return edges


def _shows_glyphs(crop: np.ndarray, shown: np.ndarray, mask: np.ndarray) -> bool:
    """Whether a band crop still shows the cue's glyphs (a frame on the cue's border, a cue read a frame short):
    hardly any masked pixel differs sharply from the luma *shown* in the cue. Without the text, the glyphs' fill
    and outline do (a still background's edges, masked too, do not: hence a share, not all)."""
    changed = np.abs(crop @ LUMA - shown)[mask] > UNCOVERED
    return bool(changed.size == 0 or changed.mean() < UNCOVERED_SHARE)


def glyph_mask(crops: np.ndarray) -> np.ndarray:
    """Where one cue's text is drawn in its band crops (frames, height, width, 3): bool (height, width). A still
    background's own sharp edges are masked too (they are filled back from a clean frame)."""
    import cv2

    count, height = crops.shape[:2]
    samples = crops[np.unique(np.linspace(0, count - 1, min(count, MASK_SAMPLES)).round().astype(int))]
    glyph_edges = np.mean([_edges(crop) for crop in samples], axis=0) >= PERSISTENT
    luma = samples @ LUMA
    steady = luma.max(axis=0) - luma.min(axis=0) <= STEADY
    stroke = _disc(max(3, round(STROKE * height)))
    near = cv2.morphologyEx(cv2.dilate(glyph_edges.astype(np.uint8), stroke), cv2.MORPH_CLOSE, stroke) > 0
    return near & steady


def _disc(radius: int) -> np.ndarray:
    import cv2

    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def fill(crop: np.ndarray, mask: np.ndarray, references: Sequence[np.ndarray]) -> np.ndarray:
    """*crop* with the glyphs in *mask* replaced: from the first reference crop (a clean frame, nearest first)
    whose background around them is still, else inpainted from the pixels around. With a reference, only the
    masked pixels that differ from it are glyphs (a still background's edges are masked too, and stay as they
    are); each frame's glyphs then grow by `HALO`."""
    import cv2

    glyphs = mask & (np.abs(crop @ LUMA - references[0] @ LUMA) > CHANGED) if references else mask
    left = cv2.dilate(glyphs.astype(np.uint8), _disc(HALO)) > 0
    out = crop.copy()
    for unaligned in references:
        if not left.any():
            break
        reference = aligned(unaligned, crop, left)
        take = left & still(crop, reference, left)
        out[take] = reference[take]
        left &= ~take
    if left.any():
        out = cv2.inpaint(out, left.astype(np.uint8), INPAINT_RADIUS, cv2.INPAINT_TELEA)
    return out


def aligned(reference: np.ndarray, crop: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """*reference* shifted, in tiles a band's height wide, by up to `REACH` of that height each way to match
    *crop*'s unmasked pixels best (a background that moves a little between the frames, a body swaying, a slow
    pan). Shifting by zero is one of the choices: a still background stays where it is."""
    import cv2

    height, width = crop.shape[:2]
    reach = max(1, round(REACH * height))
    padded = cv2.copyMakeBorder(reference, reach, reach, reach, reach, cv2.BORDER_REFLECT)
    padded_luma = (padded @ LUMA).astype(np.float32)
    crop_luma = (crop @ LUMA).astype(np.float32)
    seen = (~mask).astype(np.float32)
    out = reference.copy()
    for left in range(0, width, height):
        right = min(width, left + height)
        if seen[:, left:right].sum() < MIN_SEEN * height * (right - left):
            continue
        search = padded_luma[:, left : right + 2 * reach]
        errors = cv2.matchTemplate(search, crop_luma[:, left:right], cv2.TM_SQDIFF, mask=seen[:, left:right])
        dy, dx = np.unravel_index(int(np.argmin(errors)), errors.shape)
        out[:, left:right] = padded[dy : dy + height, left + dx : right + dx]
    return out


def still(crop: np.ndarray, reference: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Where the background is still between *crop* and *reference*: of the unmasked pixels within a band's
    height around, fewer than `MOVED_SHARE` differ by more than `NOISE` (bool, height, width). A share, not a
    mean: a stray glyph pixel left out of the mask must not make a still background look moving."""
    import cv2

    height = crop.shape[0]
    window = (height | 1, height | 1)
    seen = (~mask).astype(np.float32)
    moved = (np.abs(crop @ LUMA - reference @ LUMA) > NOISE) * seen
    around = cv2.blur(seen, window)
    share = cv2.blur(moved.astype(np.float32), window) / np.maximum(around, 1e-6)
    return (around > 0.05) & (share < MOVED_SHARE)
