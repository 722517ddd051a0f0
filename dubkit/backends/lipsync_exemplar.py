"""Lip-sync backend, CPU, no learned weights: the actor's own mouths, re-timed to the dubbed speech.

In the manner of Video Rewrite: the speaking face's track supplies exemplars, lower-face images of the same
actor elsewhere in the shot at openings evenly spread over its range (`bins` of them). The dubbed speech gives
each frame a target opening within the actor's range, from its closed mouth (`CLOSED` quantile) in pauses to
its widest (`WIDE`) at the loudest syllable: while speaking, the speech envelope's rank, to the power `SHAPE`
(most syllables part the lips a little, the loud ones wide, as the envelope itself), smoothed over three
frames. The actor's own distribution of openings does not shape the targets: one who rests with the lips
apart would otherwise show nearly the same wide mouth on every syllable. Each frame takes the exemplar
nearest its target, aligned by the mouth corners (rotation, scale, shift), colour-matched to the frame, and
blended through a feathered region from just over the upper lip down to a little below the chin, so the jaw
moves with the lips (round the lips only where the exemplar's face sat turned aside of the frame's: its chin
would show beside this one). Every pixel outside that region is left as decoded, and frames of other faces
or with no face pass through untouched. A face whose mouth never moves (a photo: openings spread less than
`MIN_SPREAD`) offers nothing to choose from: its jaw is dropped geometrically instead (`dubkit.lipsync.warp`),
as far as the same speech levels ask. Needs opencv (mediapipe's) and the face tracks of
`dubkit.lipsync.tracks`.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dubkit import media
from dubkit.errors import ConfigError
from dubkit.lipsync.sync import envelope_near
from dubkit.lipsync.tracks import Analysis, FaceTrack, Windows, eases, plan

log = logging.getLogger(__name__)

NAME = "lipsync/exemplar"
CANVAS = (128, 128)  # canonical lower face, width x height: the mouth, and room below it for the chin
LEFT, RIGHT = np.array([40.0, 44.0]), np.array([88.0, 44.0])  # where the mouth corners sit on it
CENTRE = (64.0, 50.0)  # centre of the blend region on the canvas, just under the corner line
RADII = (34.0, 26.0)  # its half width, and how far it reaches up over the upper lip (and at least down)
LIP_MARGIN = 0.08  # ... up at most this many face heights above the mouth corners
CHIN_MARGIN = 0.1  # ... down to this many face heights below the chin
TURNED = (0.1, 0.2)  # ... unless the exemplar's face sits this far sideways of the frame's (mouth widths): over
# the first the reach shrinks, from the second it stays round the lips (a chin of another pose would show twice)
FEATHER = 0.35  # fraction of the region over which the blend fades out
SILENCE_DB = -35.0  # speech envelope this far below its peak is a pause: the mouth closes
CLOSED = 0.05  # the quantile of the actor's openings shown in pauses
WIDE = 0.98  # ... and at the loudest syllable
SHAPE = 2.0  # in between, the opening grows as the speech level's share of the way to this power
MIN_SPREAD = 0.01  # a track whose opening varies less (a photo) has no exemplars to choose: its mouth is warped
WARP_GAIN = 0.6  # the geometric opening at the loudest syllable (1 = `warp.JAW_DROP` of the face height)


@dataclass(frozen=True)
class Face:
    """A face on the canvas (its mouth corners on LEFT and RIGHT), canvas pixels: the middle of its box's
    bottom edge (the chin) and the box's height."""

    x: float
    chin: float
    height: float


@dataclass(frozen=True)
class Exemplar:
    opening: float
    patch: np.ndarray  # canonical lower face, uint8 RGB (CANVAS): a bank per speaking face, kept small
    face: Face | None = None  # where its face lies on the canvas (`face_on_canvas`)


class ExemplarSyncer:
    def __init__(self, bins: int = 16) -> None:
        if bins < 2:
            raise ConfigError(f"{NAME}: bins must be ≥ 2, not {bins}")
        self.bins = bins

    def fingerprint(self) -> dict[str, str]:
        return {"library": "dubkit", "model": f"exemplar-4 bins={self.bins}", "weights": "none"}

    def load(self) -> None:
        import cv2  # noqa: F401 - fail early when opencv is missing

    def close(self) -> None:
        return None

    def sync(
        self,
        video: Path,
        frames: Iterator[media.Frame],
        audio: np.ndarray,
        rate: int,
        analysis: Analysis,
        windows: Windows,
    ) -> Iterator[np.ndarray]:
        """Each frame's picture: inside its track's windows the mouth follows *audio*, else the frame as it was."""
        chosen = plan(analysis, windows)
        speaking = {track.id: track for track, _ in chosen.values() if len(track.frames) >= 2}
        still = {i for i, track in speaking.items() if opening_spread(track.opening) < MIN_SPREAD}
        banks = self._banks(video, [track for i, track in speaking.items() if i not in still])
        levels = window_levels(analysis, [speaking[i] for i in sorted(speaking)], windows, audio, rate)
        ranges = {i: opening_range(track.opening) for i, track in speaking.items()}
        strengths = eases(analysis, windows)
        for frame in frames:
            track, position = chosen.get(frame.index, (None, 0))
            if track is None or track.id not in speaking:
                yield frame.rgb
            elif track.id in still:
                yield _warped(frame.rgb, track, position, levels[frame.index], strengths[frame.index])
            elif banks.get(track.id):
                wanted = float(openings_for(ranges[track.id], np.array([levels[frame.index]]))[0])
                exemplar = min(banks[track.id], key=lambda e: abs(e.opening - wanted))
                corners, box = track.corners[position], track.boxes[position]
                yield render(frame.rgb, corners, exemplar.patch, box, exemplar.face, strengths[frame.index])
            else:
                yield frame.rgb

    def _banks(self, video: Path, tracks: list[FaceTrack]) -> dict[int, list[Exemplar]]:
        """Per track, the canonical lower faces of the frames whose openings are nearest the bins' openings."""
        wanted: dict[int, tuple[FaceTrack, int]] = {}
        for track in tracks:
            for position in _exemplar_positions(track.opening, self.bins):
                wanted[int(track.frames[position])] = (track, position)
        banks: dict[int, list[Exemplar]] = {t.id: [] for t in tracks}
        if not wanted:
            return banks
        last = max(wanted)
        for frame in media.video_frames(video, only=wanted):
            track, position = wanted[frame.index]
            corners, box = track.corners[position], track.boxes[position]
            face = face_on_canvas(frame.rgb.shape, corners, box)
            banks[track.id].append(Exemplar(float(track.opening[position]), canonical(frame.rgb, corners), face))
            if frame.index >= last:
                break
        return banks


def window_levels(
    analysis: Analysis, tracks: list[FaceTrack], windows: Windows, audio: np.ndarray, rate: int
) -> dict[int, float]:
    """Frame index → how open its mouth should be (`speech_levels`), each window on its own: an edit elsewhere
    changes nothing here."""
    levels: dict[int, float] = {}
    for track in tracks:
        times = analysis.times_s[track.frames]
        for start, end in windows.get(track.id, ()):
            inside = np.flatnonzero((times >= start) & (times < end))
            if len(inside):
                wanted = speech_levels(times[inside], audio, rate)
                levels.update(zip(track.frames[inside].tolist(), wanted.tolist(), strict=True))
    return levels


def speech_levels(times: np.ndarray, audio: np.ndarray, rate: int) -> np.ndarray:
    """Per frame at *times*, how open the mouth should be: `CLOSED` in pauses, while speaking the speech
    envelope's rank mapped onto 0.15-0.98 (`WIDE`), smoothed over three frames."""
    envelope = envelope_near(audio, rate, times, margin_s=0.1) if len(times) else np.zeros(0)
    peak = float(envelope.max()) if len(envelope) else 0.0
    speaking = envelope > max(peak * 10 ** (SILENCE_DB / 20), 1e-4)
    level = np.full(len(envelope), CLOSED)
    if speaking.any():
        ranks = np.argsort(np.argsort(envelope[speaking])) / max(int(speaking.sum()) - 1, 1)
        level[speaking] = 0.15 + (WIDE - 0.15) * ranks
    return np.convolve(np.pad(level, 1, mode="edge"), [0.25, 0.5, 0.25], mode="valid")


def target_openings(own: np.ndarray, times: np.ndarray, audio: np.ndarray, rate: int) -> np.ndarray:
    """The openings frames at *times* should show for *audio*, within the range of the actor's *own* openings."""
    return openings_for(opening_range(own), speech_levels(times, audio, rate))


def opening_range(opening: np.ndarray) -> tuple[float, float]:
    """The actor's closed and widest openings: the `CLOSED` and `WIDE` quantiles of a track's (0, 0 for none)."""
    valid = opening[~np.isnan(opening)]
    if not len(valid):
        return 0.0, 0.0
    closed, wide = np.quantile(valid, [CLOSED, WIDE])
    return float(closed), float(wide)


def openings_for(extent: tuple[float, float], levels: np.ndarray) -> np.ndarray:
    """The openings *levels* (`speech_levels`) ask for, spread over the actor's range (`opening_range`): closed in
    pauses, widest at the loudest syllable, in between their share of the way to the power `SHAPE`. The actor's
    own distribution of openings does not shape them: one who rests with the lips apart (most frames near the
    widest) would otherwise show nearly the same wide mouth on every syllable."""
    closed, wide = extent
    share = np.clip((np.asarray(levels, dtype=np.float64) - CLOSED) / (WIDE - CLOSED), 0.0, 1.0)
    return closed + (wide - closed) * share**SHAPE


def opening_spread(opening: np.ndarray) -> float:
    """How far the mouth of a track opens and closes (2nd to 98th percentile); 0 for a still face."""
    valid = opening[~np.isnan(opening)]
    return float(np.subtract(*np.quantile(valid, [0.98, 0.02]))) if len(valid) else 0.0


def _warped(rgb: np.ndarray, track: FaceTrack, position: int, level: float, strength: float) -> np.ndarray:
    """A still face's mouth opened geometrically, as far as *level* asks, at *strength* (a window's edges fade in
    and out; closed: the frame as it was)."""
    from dubkit.lipsync.warp import open_mouth

    amount = strength * WARP_GAIN * max(0.0, level - CLOSED) / (1.0 - CLOSED)
    return open_mouth(rgb, track.corners[position], track.boxes[position], amount) if amount > 0 else rgb


def canonical(rgb: np.ndarray, corners: np.ndarray) -> np.ndarray:
    """The lower face of *rgb* warped so its mouth corners (fractions) land on LEFT and RIGHT of the canvas."""
    import cv2

    matrix = _similarity(_pixels(rgb.shape, corners), np.stack([LEFT, RIGHT]))
    return cv2.warpAffine(rgb, matrix, CANVAS, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def render(
    rgb: np.ndarray,
    corners: np.ndarray,
    patch: np.ndarray,
    box: np.ndarray | None = None,
    source: Face | None = None,
    strength: float = 1.0,
) -> np.ndarray:
    """*rgb* with the canonical *patch* placed on its mouth, colour-matched and feather-blended (at *strength*:
    a window's edges fade between the frame's mouth and the patch's). With the face *box* (fractions) the blend
    reaches down over the chin (`reach`), so the jaw moves with the lips, unless the face of the patch (*source*,
    `face_on_canvas`) is turned another way."""
    import cv2

    matrix = _similarity(np.stack([LEFT, RIGHT]), _pixels(rgb.shape, corners))
    x0, y0, x1, y1 = _footprint(matrix, rgb.shape)
    if x1 <= x0 or y1 <= y0:
        return rgb
    shifted = matrix.copy()
    shifted[:, 2] -= (x0, y0)
    size = (x1 - x0, y1 - y0)
    warped = cv2.warpAffine(patch, shifted, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    warped = warped.astype(np.float32)
    mask = _mask(*reach(rgb.shape, corners, box, source))
    # outside the patch the mask is 0 (warpAffine's default constant border)
    alpha = strength * cv2.warpAffine(mask, shifted, size, flags=cv2.INTER_LINEAR)[..., None]
    out = rgb.copy()
    region = out[y0:y1, x0:x1].astype(np.float32)
    weight = alpha.sum()
    if weight > 0:  # colour match: the exemplar's mean under the mask moved to the frame's
        warped = warped + ((region - warped) * alpha).sum(axis=(0, 1)) / weight
    out[y0:y1, x0:x1] = np.clip(np.rint(alpha * warped + (1 - alpha) * region), 0, 255).astype(np.uint8)
    return out


def face_on_canvas(shape: tuple[int, ...], corners: np.ndarray, box: np.ndarray | None) -> Face | None:
    """Where the face of *box* lies on the canvas of its mouth *corners* (fractions); None without a usable box,
    or with an implausible one (less than 1.2 or more than 6 mouth widths high)."""
    if box is None or not np.all(np.isfinite(box)) or not np.all(np.isfinite(corners)):
        return None
    left, right = _pixels(shape, corners)
    mouth = float(np.hypot(*(right - left)))
    height = (float(box[3]) - float(box[1])) * shape[0]
    if mouth <= 0 or not 1.2 * mouth <= height <= 6.0 * mouth:
        return None
    to_canvas = _similarity(np.stack([left, right]), np.stack([LEFT, RIGHT]))
    x, chin = to_canvas @ np.array([(float(box[0]) + float(box[2])) / 2 * shape[1], float(box[3]) * shape[0], 1.0])
    return Face(float(x), float(chin), height * float(RIGHT[0] - LEFT[0]) / mouth)


def reach(
    shape: tuple[int, ...], corners: np.ndarray, box: np.ndarray | None, source: Face | None = None
) -> tuple[int, int]:
    """How far (canvas pixels) the blend region reaches above and below its centre on this frame: up over the
    upper lip, no further than `LIP_MARGIN` face heights above the mouth corners, and down to `CHIN_MARGIN` face
    heights below the chin (the bottom of the face *box*), so a lower lip and chin of another opening replace the
    frame's own. Less far down when the patch's face (*source*) sits sideways of this one (`TURNED`): its chin
    would not land on this one. Without a usable box `RADII[1]` both ways, round the lips."""
    face = face_on_canvas(shape, corners, box)
    if face is None:
        return int(RADII[1]), int(RADII[1])
    up = np.clip(np.floor(CENTRE[1] - LEFT[1] + LIP_MARGIN * face.height), CENTRE[1] - LEFT[1] + 1, RADII[1])
    down = max(face.chin + CHIN_MARGIN * face.height - CENTRE[1], RADII[1])
    if source is not None:
        aside = abs(source.x - face.x) / float(RIGHT[0] - LEFT[0])
        near, far = TURNED
        down = RADII[1] + (down - RADII[1]) * float(np.clip((far - aside) / (far - near), 0.0, 1.0))
    return int(up), int(min(np.ceil(down), CANVAS[1] - int(CENTRE[1]) - 1))


def _exemplar_positions(opening: np.ndarray, bins: int) -> list[int]:
    """The frames whose openings are nearest *bins* evenly spaced openings over the track's range (2nd to 98th
    percentile): the targets (`openings_for`) spread over that range, not over the actor's own distribution."""
    valid = np.flatnonzero(~np.isnan(opening))
    if len(valid) == 0:
        return []
    low, high = np.quantile(opening[valid], [0.02, 0.98])
    wanted = np.linspace(low, high, bins)
    return sorted({int(valid[np.argmin(np.abs(opening[valid] - value))]) for value in wanted})


def _pixels(shape: tuple[int, ...], corners: np.ndarray) -> np.ndarray:
    height, width = shape[:2]
    return np.asarray(corners, dtype=np.float64) * (width, height)


def _similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 2x3 rotation + uniform scale + shift taking the two points *src* onto *dst*."""
    a, b = complex(*src[0]), complex(*src[1])
    c, d = complex(*dst[0]), complex(*dst[1])
    scale = (d - c) / (b - a) if b != a else 1.0
    shift = c - scale * a
    return np.array([[scale.real, -scale.imag, shift.real], [scale.imag, scale.real, shift.imag]])


def _footprint(matrix: np.ndarray, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """Pixel box (x0, y0, x1, y1) of the canvas once placed on the frame, clipped to it."""
    width, height = CANVAS
    corners = np.array([[0, 0, 1], [width, 0, 1], [0, height, 1], [width, height, 1]], dtype=np.float64)
    placed = corners @ matrix.T
    x0, y0 = np.floor(placed.min(axis=0)).astype(int)
    x1, y1 = np.ceil(placed.max(axis=0)).astype(int)
    return max(0, x0), max(0, y0), min(shape[1], x1), min(shape[0], y1)


@functools.lru_cache(maxsize=256)
def _mask(above: int = int(RADII[1]), below: int = int(RADII[1])) -> np.ndarray:
    """Feathered region on the canvas, 1 inside, fading to 0 at its rim: two half ellipses of one width around
    `CENTRE`, reaching *above* up and *below* down."""
    (cx, cy), rx = CENTRE, RADII[0]
    width, height = CANVAS
    y, x = np.mgrid[0:height, 0:width].astype(np.float32) + 0.5
    ry = np.where(y < cy, np.float32(above), np.float32(below))
    radius = np.sqrt(((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2)
    mask = np.clip((1.0 - radius) / FEATHER, 0.0, 1.0).astype(np.float32)
    mask.setflags(write=False)
    return mask
