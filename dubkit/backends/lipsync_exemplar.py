"""Lip-sync backend, CPU, no learned weights: the actor's own mouths, re-timed to the dubbed speech.

In the manner of Video Rewrite: the speaking face's track supplies exemplars, mouth images of the same
actor elsewhere in the shot at a range of openings (`BINS` quantiles). The dubbed speech gives each frame
a target opening: the speech envelope mapped by rank onto the actor's own openings while speaking, the
closed mouth in pauses, smoothed over three frames. Each frame takes the exemplar nearest its target,
aligned by the mouth corners (rotation, scale, shift), colour-matched to the frame, and blended through a
feathered ellipse around the mouth. Every pixel outside that ellipse is left as decoded, and frames of
other faces or with no face pass through untouched. A face whose mouth never moves (a photo: openings spread
less than `MIN_SPREAD`) offers nothing to choose from: its jaw is dropped geometrically instead
(`dubkit.lipsync.warp`), as far as the same speech levels ask. Needs opencv (mediapipe's) and the face tracks
of `dubkit.lipsync.tracks`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dubkit import media
from dubkit.errors import ConfigError
from dubkit.lipsync.tracks import Analysis, FaceTrack, Windows, plan
from dubkit.qa.sync import envelope_near

log = logging.getLogger(__name__)

NAME = "lipsync/exemplar"
CANVAS = (128, 96)  # canonical mouth patch, width x height
LEFT, RIGHT = np.array([40.0, 44.0]), np.array([88.0, 44.0])  # where the mouth corners sit on it
ELLIPSE = ((64.0, 50.0), (34.0, 26.0))  # centre and radii of the blend region on the canvas
FEATHER = 0.35  # fraction of the ellipse over which the blend fades out
SILENCE_DB = -35.0  # speech envelope this far below its peak is a pause: the mouth closes
CLOSED = 0.05  # the quantile of the actor's openings shown in pauses
MIN_SPREAD = 0.01  # a track whose opening varies less (a photo) has no exemplars to choose: its mouth is warped
WARP_GAIN = 0.6  # the geometric opening at the loudest syllable (1 = `warp.JAW_DROP` of the face height)


@dataclass(frozen=True)
class Exemplar:
    opening: float
    patch: np.ndarray  # canonical mouth, uint8 RGB (CANVAS): a bank per speaking face, kept small


class ExemplarSyncer:
    def __init__(self, bins: int = 16) -> None:
        if bins < 2:
            raise ConfigError(f"{NAME}: bins must be ≥ 2, not {bins}")
        self.bins = bins

    def fingerprint(self) -> dict[str, str]:
        return {"library": "dubkit", "model": f"exemplar-2 bins={self.bins}", "weights": "none"}

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
        own = {i: np.sort(track.opening[~np.isnan(track.opening)]) for i, track in speaking.items()}
        for frame in frames:
            track, position = chosen.get(frame.index, (None, 0))
            if track is None or track.id not in speaking:
                yield frame.rgb
            elif track.id in still:
                yield _warped(frame.rgb, track, position, levels[frame.index])
            elif banks.get(track.id):
                wanted = float(np.quantile(own[track.id], levels[frame.index]))
                exemplar = min(banks[track.id], key=lambda e: abs(e.opening - wanted))
                yield render(frame.rgb, track.corners[position], exemplar.patch)
            else:
                yield frame.rgb

    def _banks(self, video: Path, tracks: list[FaceTrack]) -> dict[int, list[Exemplar]]:
        """Per track, the canonical mouths of the frames whose openings are nearest the bins' quantiles."""
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
            patch = canonical(frame.rgb, track.corners[position])
            banks[track.id].append(Exemplar(float(track.opening[position]), patch))
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
    """Per frame at *times*, a quantile of the actor's own openings: `CLOSED` in pauses, while speaking the
    speech envelope's rank mapped onto 0.15-0.98, smoothed over three frames."""
    envelope = envelope_near(audio, rate, times, margin_s=0.1) if len(times) else np.zeros(0)
    peak = float(envelope.max()) if len(envelope) else 0.0
    speaking = envelope > max(peak * 10 ** (SILENCE_DB / 20), 1e-4)
    level = np.full(len(envelope), CLOSED)
    if speaking.any():
        ranks = np.argsort(np.argsort(envelope[speaking])) / max(int(speaking.sum()) - 1, 1)
        level[speaking] = 0.15 + 0.83 * ranks
    return np.convolve(np.pad(level, 1, mode="edge"), [0.25, 0.5, 0.25], mode="valid")


def target_openings(own: np.ndarray, times: np.ndarray, audio: np.ndarray, rate: int) -> np.ndarray:
    """The openings frames at *times* should show for *audio*, as quantiles of the actor's *own* openings."""
    valid = own[~np.isnan(own)]
    levels = speech_levels(times, audio, rate)
    return np.quantile(valid, levels) if len(valid) else np.zeros(len(levels))


def opening_spread(opening: np.ndarray) -> float:
    """How far the mouth of a track opens and closes (2nd to 98th percentile); 0 for a still face."""
    valid = opening[~np.isnan(opening)]
    return float(np.subtract(*np.quantile(valid, [0.98, 0.02]))) if len(valid) else 0.0


def _warped(rgb: np.ndarray, track: FaceTrack, position: int, level: float) -> np.ndarray:
    """A still face's mouth opened geometrically, as far as *level* asks (closed: the frame as it was)."""
    from dubkit.lipsync.warp import open_mouth

    amount = WARP_GAIN * max(0.0, level - CLOSED) / (1.0 - CLOSED)
    return open_mouth(rgb, track.corners[position], track.boxes[position], amount) if amount > 0 else rgb


def canonical(rgb: np.ndarray, corners: np.ndarray) -> np.ndarray:
    """The mouth of *rgb* warped so its corners (fractions) land on LEFT and RIGHT of the canvas."""
    import cv2

    matrix = _similarity(_pixels(rgb, corners), np.stack([LEFT, RIGHT]))
    return cv2.warpAffine(rgb, matrix, CANVAS, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def render(rgb: np.ndarray, corners: np.ndarray, patch: np.ndarray) -> np.ndarray:
    """*rgb* with the canonical *patch* placed on its mouth, colour-matched and feather-blended."""
    import cv2

    matrix = _similarity(np.stack([LEFT, RIGHT]), _pixels(rgb, corners))
    x0, y0, x1, y1 = _footprint(matrix, rgb.shape)
    if x1 <= x0 or y1 <= y0:
        return rgb
    shifted = matrix.copy()
    shifted[:, 2] -= (x0, y0)
    size = (x1 - x0, y1 - y0)
    warped = cv2.warpAffine(patch, shifted, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    warped = warped.astype(np.float32)
    alpha = cv2.warpAffine(_mask(), shifted, size, flags=cv2.INTER_LINEAR, borderValue=0.0)[..., None]
    out = rgb.copy()
    region = out[y0:y1, x0:x1].astype(np.float32)
    weight = alpha.sum()
    if weight > 0:  # colour match: the exemplar's mean under the mask moved to the frame's
        warped = warped + ((region - warped) * alpha).sum(axis=(0, 1)) / weight
    out[y0:y1, x0:x1] = np.clip(np.rint(alpha * warped + (1 - alpha) * region), 0, 255).astype(np.uint8)
    return out


def _exemplar_positions(opening: np.ndarray, bins: int) -> list[int]:
    valid = np.flatnonzero(~np.isnan(opening))
    if len(valid) == 0:
        return []
    wanted = np.quantile(opening[valid], np.linspace(0.02, 0.98, bins))
    return sorted({int(valid[np.argmin(np.abs(opening[valid] - value))]) for value in wanted})


def _pixels(rgb: np.ndarray, corners: np.ndarray) -> np.ndarray:
    height, width = rgb.shape[:2]
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


def _mask() -> np.ndarray:
    """Feathered ellipse on the canvas: 1 inside, fading to 0 at its rim."""
    (cx, cy), (rx, ry) = ELLIPSE
    width, height = CANVAS
    y, x = np.mgrid[0:height, 0:width].astype(np.float32) + 0.5
    radius = np.sqrt(((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2)
    return np.clip((1.0 - radius) / FEATHER, 0.0, 1.0).astype(np.float32)
