"""Loudness through ffmpeg: EBU R128 measurement (ebur128) and two-pass normalisation to a target (loudnorm in
linear mode, else gain and a true-peak limiter)."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from dubkit.errors import MediaError
from dubkit.media import ffmpeg
from dubkit.media.audio import WAV_OUT
from dubkit.media.probing import probed_input

log = logging.getLogger(__name__)

_LIMITER_TRIES = 6


@dataclass(frozen=True)
class Loudness:
    """EBU R128 measurement: integrated loudness (LUFS), true peak (dBTP), loudness range (LU)."""

    integrated_lufs: float
    true_peak_dbtp: float
    loudness_range_lu: float


def measure_loudness(wav: Path) -> Loudness:
    """EBU R128 integrated loudness, true peak and loudness range (ffmpeg's ebur128 summary)."""
    _, args = probed_input(wav, need="audio")
    return _ebur128(args, Path(wav))[0]


def _ebur128(args: list[str], path: Path) -> tuple[Loudness, float]:
    """(loudness, integrated gating threshold in LUFS) from one ebur128 pass."""
    proc = ffmpeg.run([*args, "-map", "0:a:0", "-af", "ebur128=peak=true:framelog=verbose", "-f", "null", "-"], path)
    stderr = proc.stderr.decode("utf-8", "replace")
    summary = stderr.rpartition("Summary:")[2]
    keys = ("I", "Threshold", "LRA", "Peak")
    found = [re.search(rf"\b{key}:\s*(-?inf|-?[\d.]+)", summary) for key in keys]
    if not all(found):
        raise MediaError(path, "could not measure loudness", stderr)
    integrated, threshold, lra, peak = (float(match.group(1)) for match in found if match)
    return Loudness(integrated, peak, lra), threshold


def normalize_loudness(
    src_wav: Path, out_wav: Path, target_lufs: float = -16.0, true_peak_dbtp: float = -1.5
) -> Loudness:
    """Two-pass linear loudnorm to *target_lufs* with true peak ≤ *true_peak_dbtp*; 48 kHz WAV out.

    Pass one measures with ebur128 (loudnorm's own meter reads ~0.4 LU off on speech); pass two
    is loudnorm in linear mode fed those values. Where linear mode cannot keep the peak limit,
    gain + a 4x-oversampled limiter is used. The result is measured and returned; a MediaError
    is raised when it misses the target by more than 0.5 LU.
    """
    info, args = probed_input(src_wav, need="audio")
    before, threshold = _ebur128(args, info.path)
    if before.integrated_lufs <= -70.0:
        raise MediaError(info.path, "silent audio: cannot normalize loudness")
    with ffmpeg.output(out_wav) as tmp:
        result = None
        if before.true_peak_dbtp + target_lufs - before.integrated_lufs <= true_peak_dbtp:
            result = _linear_loudnorm(args, info.path, tmp, before, threshold, target_lufs, true_peak_dbtp)
        if result is None or not _on_target(result, target_lufs, true_peak_dbtp):
            log.info("%s: linear loudnorm refused or off target (%s); using gain + limiter", info.path.name, result)
            result = _gain_and_limit(args, info.path, tmp, before.integrated_lufs, target_lufs, true_peak_dbtp)
        if not _on_target(result, target_lufs, true_peak_dbtp):
            raise MediaError(info.path, f"loudness normalization missed the target ({result})")
    return result


def _linear_loudnorm(
    args: list[str], path: Path, tmp: Path, before: Loudness, threshold: float, target: float, peak: float
) -> Loudness | None:
    """Second pass: loudnorm linear mode with the measured values; None when ffmpeg went dynamic."""
    lra = min(50.0, max(7.0, before.loudness_range_lu + 1.0))
    measured = (
        f"measured_I={before.integrated_lufs}:measured_TP={before.true_peak_dbtp}"
        f":measured_LRA={max(before.loudness_range_lu, 0.1)}:measured_thresh={threshold}"
    )
    chain = f"loudnorm=I={target}:TP={peak}:LRA={lra}:{measured}:linear=true:print_format=json,aresample=48000"
    proc = ffmpeg.run([*args, "-map", "0:a:0", "-af", chain, *WAV_OUT, *ffmpeg.output_args(tmp, "wav")], path)
    if _last_json(proc.stderr, path).get("normalization_type") != "linear":
        return None
    return measure_loudness(tmp)


def _on_target(result: Loudness, target_lufs: float, true_peak_dbtp: float, tolerance: float = 0.5) -> bool:
    return abs(result.integrated_lufs - target_lufs) <= tolerance and result.true_peak_dbtp <= true_peak_dbtp


def _gain_and_limit(args: list[str], path: Path, tmp: Path, input_lufs: float, target: float, peak: float) -> Loudness:
    """Static gain then a true-peak-safe limiter (at 192 kHz). The harder the limiter works the more loudness it
    takes back (peaky speech pushed to -14 LUFS: ~0.3 LU per dB of gain), so the gain is corrected along the
    secant through the last two tries, up to `_LIMITER_TRIES` passes."""
    gain = target - input_lufs
    result = Loudness(input_lufs, 0.0, 0.0)
    tried: list[tuple[float, float]] = []  # (gain dB, integrated LUFS)
    for _ in range(_LIMITER_TRIES):
        limit = 10 ** ((peak - 0.3) / 20)
        chain = (
            f"aresample=192000,volume={gain:.3f}dB,"  # latency=true: the limiter's 1 ms look-ahead is not a delay
            f"alimiter=limit={limit:.5f}:attack=1:release=50:level=false:latency=true,"
            "aresample=48000"
        )
        ffmpeg.run([*args, "-map", "0:a:0", "-af", chain, *WAV_OUT, *ffmpeg.output_args(tmp, "wav")], path)
        result = measure_loudness(tmp)
        if _on_target(result, target, peak, tolerance=0.2):
            break
        tried.append((gain, result.integrated_lufs))
        gain = _next_gain(tried, target)
    return result


def _next_gain(tried: list[tuple[float, float]], target: float) -> float:
    """The gain (dB) that should reach *target*: along the slope of the last two tries (LU per dB, 0.1..1), else 1."""
    gain, lufs = tried[-1]
    slope = 1.0
    if len(tried) > 1 and tried[-2][0] != gain:
        slope = min(1.0, max(0.1, (lufs - tried[-2][1]) / (gain - tried[-2][0])))
    step = (target - lufs) / slope
    return gain + max(-12.0, min(12.0, step))


def _last_json(stderr: bytes, path: Path) -> dict[str, str]:
    text = stderr.decode("utf-8", "replace")
    start = text.rfind("{")
    try:
        return dict(json.loads(text[start : text.rfind("}") + 1]))
    except ValueError:
        raise MediaError(path, "could not read loudnorm measurement", text) from None
