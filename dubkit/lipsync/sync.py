"""Audio-video sync: the offset between the mouth's movement and the speech, and how sure we are of it.

The picture gives a mouth-opening track (`dubkit.lipsync.faces`); the sound gives a speech envelope, the
RMS of the 500-2000 Hz band (where the first formant follows the jaw) in a 40 ms window at each frame.
Both are put on one even time grid (phones and cameras drop frames), and for every lag within
±`max_lag_ms` the score is the correlation of their frame-to-frame changes plus half the correlation of
their levels. Every lag compares the mouth's whole window with the speech that lag away, taken beyond the
window where it must be (silence before the sound starts), so on a short window (a line) every lag is
judged on the same frames, not on an overlap that shrinks as the lag grows. The best lag, refined to a
fraction of a frame, is the offset; positive means the sound comes late. Confidence is the best score
minus the median score over all lags: near 0 when nothing in the picture follows the sound.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dubkit.lipsync.faces import MouthTrack

VERSION = 1  # bump when a change here changes the bytes of a cache entry (see dubkit.cache)
BAND_HZ = (500.0, 2000.0)
WINDOW_MS = 40.0
MAX_LAG_MS = 400.0
LEVEL_WEIGHT = 0.5
MIN_FRAMES = 25  # fewer frames with a face than this (1 s at 25 fps) is no measurement


@dataclass(frozen=True)
class SyncEstimate:
    """`offset_frames` > 0: the sound is late. `confidence`: best score minus the median score over lags."""

    offset_frames: float
    fps: float
    confidence: float
    frames: int

    @property
    def offset_ms(self) -> float:
        return 1000.0 * self.offset_frames / self.fps


def estimate(
    track: MouthTrack,
    audio: np.ndarray,
    rate: int,
    start_s: float | None = None,
    end_s: float | None = None,
    max_lag_ms: float = MAX_LAG_MS,
) -> SyncEstimate | None:
    """The offset of mono *audio* (starting with the video) against *track*, over [start_s, end_s).

    None when there is too little to measure: no face, too few frames, or a flat signal.
    """
    fps = track.fps
    grid = _grid(track, start_s, end_s)
    if fps <= 0 or len(grid) < MIN_FRAMES:
        return None
    mouth = _on_grid(track, grid)
    if mouth is None:
        return None
    max_lag = max(1, int(round(max_lag_ms * fps / 1000.0)))
    reach = grid[0] + np.arange(-max_lag, len(grid) + max_lag) / fps  # the grid and every lag's frames beyond it
    speech = envelope_near(audio, rate, reach, margin_s=2 / fps)
    scores = _scores(mouth, speech, max_lag)
    if not np.isfinite(scores).any():
        return None
    best = int(np.nanargmax(scores))
    offset = best - max_lag + _parabolic(scores, best)
    confidence = float(scores[best] - np.nanmedian(scores))
    return SyncEstimate(float(offset), fps, confidence, len(grid))


def speech_envelope(audio: np.ndarray, rate: int, times_s: np.ndarray, window_ms: float = WINDOW_MS) -> np.ndarray:
    """RMS of the speech band in a window centred on each time."""
    from scipy.signal import butter, sosfiltfilt

    low, high = BAND_HZ
    sos = butter(4, (low, min(high, 0.45 * rate)), btype="band", fs=rate, output="sos")
    band = sosfiltfilt(sos, np.asarray(audio, dtype=np.float64)) if len(audio) > 30 else np.zeros(len(audio))
    squared = np.concatenate([[0.0], np.cumsum(band * band)])
    half = max(1, int(rate * window_ms / 2000.0))
    centres = np.round(np.asarray(times_s) * rate).astype(np.int64)
    lo = np.clip(centres - half, 0, len(band))
    hi = np.clip(centres + half, 0, len(band))
    energy = (squared[hi] - squared[lo]) / np.maximum(hi - lo, 1)
    return np.sqrt(np.maximum(energy, 0.0))


def envelope_near(
    audio: np.ndarray, rate: int, grid: np.ndarray, margin_s: float, window_ms: float = WINDOW_MS
) -> np.ndarray:
    """The envelope at the grid's times (ascending), filtering only the audio around them, not the episode."""
    first = max(0, int((grid[0] - margin_s) * rate))
    last = min(len(audio), int((grid[-1] + margin_s) * rate) + 1)
    return speech_envelope(audio[first:last], rate, grid - first / rate, window_ms)


def _grid(track: MouthTrack, start_s: float | None, end_s: float | None) -> np.ndarray:
    """An even time grid at the track's frame rate, inside the window and the frames that have a face."""
    seen = track.times_s[~np.isnan(track.opening)]
    if len(seen) == 0 or track.fps <= 0:
        return np.zeros(0)
    first = max(seen[0], start_s if start_s is not None else seen[0])
    last = min(seen[-1], end_s - 1e-6 if end_s is not None else seen[-1])  # end_s itself is outside
    step = 1.0 / track.fps
    return first + step * np.arange(int(np.floor((last - first) / step + 1e-6)) + 1) if last > first else np.zeros(0)


def _on_grid(track: MouthTrack, grid: np.ndarray) -> np.ndarray | None:
    """Mouth opening interpolated onto the grid; gaps without a face are bridged linearly."""
    seen = ~np.isnan(track.opening)
    if np.count_nonzero(seen) < MIN_FRAMES:
        return None
    return np.interp(grid, track.times_s[seen], track.opening[seen])


def _scores(mouth: np.ndarray, speech: np.ndarray, max_lag: int) -> np.ndarray:
    """Per lag in -max_lag..max_lag, the score of *mouth* against the frames of *speech* (the mouth's window
    widened by max_lag each side) that lag later: change correlation + `LEVEL_WEIGHT` × level correlation."""
    out = np.full(2 * max_lag + 1, np.nan)
    for index in range(2 * max_lag + 1):
        heard = speech[index : index + len(mouth)]
        out[index] = _pearson(np.diff(mouth), np.diff(heard)) + LEVEL_WEIGHT * _pearson(mouth, heard)
    return out


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Their correlation; NaN where either is flat."""
    return float(np.corrcoef(a, b)[0, 1]) if a.std() > 0 and b.std() > 0 else float("nan")


def _parabolic(scores: np.ndarray, best: int) -> float:
    """Sub-frame refinement: the vertex of the parabola through the peak and its neighbours."""
    if not 0 < best < len(scores) - 1 or not np.isfinite(scores[best - 1 : best + 2]).all():
        return 0.0
    left, centre, right = scores[best - 1], scores[best], scores[best + 1]
    curvature = left - 2 * centre + right
    return float(np.clip(0.5 * (left - right) / curvature, -0.5, 0.5)) if curvature < 0 else 0.0
