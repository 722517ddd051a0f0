"""The data behind the report's plots: waveforms of source and dub, mouth opening against speech envelope."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dubkit import media
from dubkit.lipsync import sync, tracks

VERSION = 1  # bump when a change here changes the bytes of a cache entry (see dubkit.cache)
RATE = 16000
WAVEFORM_BINS = 1200
MOUTH_POINTS = 3000


def waveform(original: Path, dub_audio: np.ndarray) -> dict:
    """Peak level per time bin of the source's and the dub's soundtracks, on one scale (0..1)."""
    source = media.decode_audio(original, RATE, 1).reshape(-1) if media.probe(original).has_audio else np.zeros(1)
    length = max(len(source), len(dub_audio), 1)
    bins = min(WAVEFORM_BINS, length)
    peaks = [_peaks(np.pad(np.abs(x), (0, length - len(x))), bins) for x in (source, dub_audio)]
    scale = max(float(max(p.max() for p in peaks)), 1e-9)
    return {
        "bin_s": length / RATE / bins,
        "original": [_round(float(v) / scale, 4) for v in peaks[0]],
        "dubbed": [_round(float(v) / scale, 4) for v in peaks[1]],
    }


def _peaks(levels: np.ndarray, bins: int) -> np.ndarray:
    edges = np.linspace(0, len(levels), bins + 1).astype(int)
    return np.maximum.reduceat(levels, edges[:-1]) if len(levels) else np.zeros(bins)


def mouth_plot(analysis: tracks.Analysis | None, dub_audio: np.ndarray) -> dict:
    """The dubbed picture's largest mouth opening per frame and the dubbed speech envelope, each scaled to 0..1."""
    if analysis is None or len(analysis.times_s) == 0:
        return {"times_s": [], "opening": [], "envelope": []}
    opening = np.full(len(analysis.times_s), np.nan)
    area = np.zeros(len(analysis.times_s))
    for track in analysis.tracks:
        sizes = (track.boxes[:, 2] - track.boxes[:, 0]) * (track.boxes[:, 3] - track.boxes[:, 1])
        larger = sizes > area[track.frames]
        opening[track.frames[larger]] = track.opening[larger]
        area[track.frames[larger]] = sizes[larger]
    envelope = sync.speech_envelope(dub_audio, RATE, analysis.times_s)
    step = max(1, len(analysis.times_s) // MOUTH_POINTS)
    top_open = np.nanmax(opening) if np.any(~np.isnan(opening)) else 1.0
    top_env = max(float(envelope.max()), 1e-9) if len(envelope) else 1.0
    return {
        "times_s": [_round(float(t), 3) for t in analysis.times_s[::step]],
        "opening": [None if np.isnan(v) else _round(float(v / top_open), 4) for v in opening[::step]],
        "envelope": [_round(float(v / top_env), 4) for v in envelope[::step]],
    }


def _round(value: float, digits: int) -> float:
    return round(float(value), digits)
