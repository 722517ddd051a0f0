"""Audio helpers: WAV read/write (soundfile, whole or in blocks), resampling, levels. ffmpeg is dubkit.media's."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from math import gcd
from pathlib import Path
from typing import Any

import numpy as np

from dubkit.fsutil import atomic_path

VERSION = 1  # bump when a change here changes the bytes of a cache entry (see dubkit.cache)
LEVEL_ROWS = 1200  # 50 ms frames squared (as float64) at a time when measuring levels: one minute, not the file


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """Return (samples, rate): float32, mono as shape (n,), multichannel as shape (n, channels)."""
    import soundfile

    samples, rate = soundfile.read(str(path), dtype="float32", always_2d=False)
    return samples, int(rate)


def read_wav_span(path: Path, start_ms: int, end_ms: int) -> tuple[np.ndarray, int]:
    """Like `read_wav`, the samples from *start_ms* to *end_ms* only (clipped to the file), read by seeking."""
    import soundfile

    with soundfile.SoundFile(str(path)) as handle:
        rate = int(handle.samplerate)
        start = min(max(0, int(start_ms * rate / 1000)), handle.frames)
        handle.seek(start)
        samples = handle.read(max(0, int(end_ms * rate / 1000) - start), dtype="float32", always_2d=False)
    return samples, rate


def write_wav(path: Path, samples: np.ndarray, rate: int, subtype: str = "PCM_16") -> None:
    """Write a WAV atomically (temp file + rename)."""
    import soundfile

    with atomic_path(Path(path), suffix=".wav") as tmp:
        soundfile.write(str(tmp), np.asarray(samples, dtype=np.float32), rate, subtype=subtype, format="WAV")


def wav_shape(path: Path) -> tuple[int, int, int]:
    """(frames, rate, channels) of a WAV without reading its samples."""
    import soundfile

    info = soundfile.info(str(path))
    return int(info.frames), int(info.samplerate), int(info.channels)


def wav_blocks(path: Path, frames: int) -> Iterator[np.ndarray]:
    """The WAV's samples as consecutive float32 blocks of *frames* (the last may be shorter), shape (n, channels)."""
    import soundfile

    yield from soundfile.blocks(str(path), blocksize=frames, always_2d=True, dtype="float32")


@contextlib.contextmanager
def wav_writer(path: Path, rate: int, channels: int, subtype: str = "PCM_16") -> Iterator[Any]:
    """A soundfile writer (call `.write(block)`) whose WAV is published atomically once the block is left."""
    import soundfile

    with (
        atomic_path(Path(path), suffix=".wav") as tmp,
        soundfile.SoundFile(str(tmp), "w", rate, channels, subtype, format="WAV") as sink,
    ):
        yield sink


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
    return blocks_active_rms_db([samples], rate, floor_db)


def blocks_active_rms_db(blocks: Iterable[np.ndarray], rate: int, floor_db: float = -50.0) -> float:
    """`active_rms_db` of a signal given as consecutive blocks (e.g. `wav_blocks`): the same value, flat memory."""
    energy = np.concatenate([np.zeros(0), *_frame_energies(blocks, max(1, rate // 20))])
    active = energy[10.0 * np.log10(np.maximum(energy, 1e-12)) > floor_db]
    return float(10.0 * np.log10(np.mean(active))) if active.size else -120.0


def _frame_energies(blocks: Iterable[np.ndarray], hop: int) -> Iterator[np.ndarray]:
    """Mean square (float64) of each whole *hop*-sample frame of the blocks' mono mix (a partial last one: left out)."""
    rest = np.zeros(0, np.float32)
    for block in blocks:
        mono = np.concatenate([rest, to_mono(block)]) if len(rest) else to_mono(block)
        whole = len(mono) // hop * hop
        frames = mono[:whole].reshape(-1, hop)
        for first in range(0, len(frames), LEVEL_ROWS):
            yield np.mean(np.square(frames[first : first + LEVEL_ROWS], dtype=np.float64), axis=1)
        rest = mono[whole:]
