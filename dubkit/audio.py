"""In-memory audio helpers: WAV read/write (soundfile), resampling, levels. No ffmpeg here (see media.py)."""

from __future__ import annotations

from math import gcd
from pathlib import Path

import numpy as np

from dubkit.fsutil import atomic_path


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """Return (samples, rate): float32, mono as shape (n,), multichannel as shape (n, channels)."""
    import soundfile

    samples, rate = soundfile.read(str(path), dtype="float32", always_2d=False)
    return samples, int(rate)


def write_wav(path: Path, samples: np.ndarray, rate: int, subtype: str = "PCM_16") -> None:
    """Write a WAV atomically (temp file + rename)."""
    import soundfile

    with atomic_path(Path(path), suffix=".wav") as tmp:
        soundfile.write(str(tmp), np.asarray(samples, dtype=np.float32), rate, subtype=subtype, format="WAV")


def resample(samples: np.ndarray, source_rate: int, target_rate: int) -> np.ndarray:
    """Polyphase resampling along axis 0."""
    if source_rate == target_rate:
        return np.asarray(samples, dtype=np.float32)
    from scipy.signal import resample_poly

    divisor = gcd(source_rate, target_rate)
    out = resample_poly(samples, target_rate // divisor, source_rate // divisor, axis=0)
    return out.astype(np.float32)


def to_mono(samples: np.ndarray) -> np.ndarray:
    return samples if samples.ndim == 1 else samples.mean(axis=1).astype(np.float32)


def rms_db(samples: np.ndarray) -> float:
    """RMS level in dBFS (−inf-safe)."""
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))) if samples.size else 0.0
    return 20.0 * np.log10(max(rms, 1e-10))


def active_rms_db(samples: np.ndarray, rate: int, floor_db: float = -50.0) -> float:
    """RMS level of the 50 ms frames louder than *floor_db*: the level of the speech, not of the pauses."""
    mono = to_mono(samples)
    hop = max(1, rate // 20)
    frames = mono[: len(mono) // hop * hop].reshape(-1, hop)
    if not len(frames):
        return -120.0
    energy = np.mean(np.square(frames, dtype=np.float64), axis=1)
    active = energy[10.0 * np.log10(np.maximum(energy, 1e-12)) > floor_db]
    return float(10.0 * np.log10(np.mean(active))) if active.size else -120.0
