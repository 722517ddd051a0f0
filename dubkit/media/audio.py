"""Sound through ffmpeg: the first audio stream extracted to WAV or decoded to float32, resampled on the
container's timeline, and a WAV time-stretched keeping its pitch."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dubkit.media import ffmpeg
from dubkit.media.probing import probed_input

WAV_OUT = ("-c:a", "pcm_s16le")


def extract_audio(src: Path, out_wav: Path, rate: int = 16000, channels: int = 1) -> Path:
    """First audio stream → 16-bit WAV, aligned to the container's time zero (leading gaps filled)."""
    _, args = probed_input(src, need="audio")
    audio = ["-map", "0:a:0", "-vn", "-sn", "-dn", "-af", resample_filter(rate, channels), *WAV_OUT]
    with ffmpeg.output(out_wav) as tmp:
        ffmpeg.run([*args, *audio, *ffmpeg.output_args(tmp, "wav")], Path(src))
    return Path(out_wav)


def decode_audio(path: Path, rate: int, channels: int) -> np.ndarray:
    """Decode the first audio stream to float32: shape (n,) when mono, (n, channels) otherwise."""
    _, args = probed_input(path, need="audio")
    audio = ["-map", "0:a:0", "-af", resample_filter(rate, channels), "-f", "f32le"]
    proc = ffmpeg.run([*args, *audio, "-protocol_whitelist", "pipe", "pipe:1"], Path(path))
    samples = np.frombuffer(proc.stdout, dtype="<f4").astype(np.float32)
    return samples if channels == 1 else samples.reshape(-1, channels)


def resample_filter(rate: int, channels: int = 0) -> str:
    """Resample on the container timeline (leading gaps filled); a downmix averages channels (no clipping)."""
    layout = {0: "", 1: ":ochl=mono", 2: ":ochl=stereo"}.get(channels, f":ochl={channels}c")
    return f"aresample={int(rate)}:async=1:first_pts=0:rematrix_maxval=1{layout}"


def time_stretch(src_wav: Path, out_wav: Path, factor: float) -> Path:
    """Rubberband time stretch keeping pitch; factor > 1 = faster/shorter. Length is exactly n / factor."""
    if not 0.25 <= factor <= 4.0:
        raise ValueError(f"stretch factor {factor} outside 0.25..4")
    info, args = probed_input(src_wav, need="audio")
    samples = round(info.duration_s * info.sample_rate / factor)
    stretch = f"rubberband=tempo={factor:.6f}:pitch=1:transients=smooth:window=standard:pitchq=quality"
    chain = f"{stretch},apad=whole_len={samples},atrim=end_sample={samples}"
    with ffmpeg.output(out_wav) as tmp:
        ffmpeg.run([*args, "-map", "0:a:0", "-af", chain, *WAV_OUT, *ffmpeg.output_args(tmp, "wav")], info.path)
    return Path(out_wav)
