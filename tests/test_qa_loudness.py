"""dubkit.qa.loudness: known BS.1770 / EBU values on synthetic signals, and agreement with ffmpeg's ebur128."""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
from scipy import signal

from dubkit import media
from dubkit.audio import read_wav, write_wav
from dubkit.qa import loudness
from dubkit.qa.loudness import SILENCE_LUFS, TRUE_PEAK_FLOOR_DBTP, Loudness

RATES = (16000, 44100, 48000)
FFMPEG_TOLERANCE = 0.5  # LU for I and LRA, dB for the true peak


def tone(rate: int, seconds: float, freq: float = 997.0, dbfs: float = 0.0, phase: float = 0.0) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return (10 ** (dbfs / 20) * np.sin(2 * np.pi * freq * t + phase)).astype(np.float32)


def stereo(left: np.ndarray, right: np.ndarray | None = None) -> np.ndarray:
    return np.stack([left, left if right is None else right], axis=1)


def speech_like_bursts(rate: int, channels: int, seconds: float = 20.0, seed: int = 0) -> np.ndarray:
    """Noise in the speech band, cut into 80-300 ms "syllables" at varying levels, with phrase pauses."""
    rng = np.random.default_rng(seed)
    n = round(seconds * rate)
    envelope = np.zeros(n, dtype=np.float32)
    at = 0
    while at < n:
        if rng.random() < 0.15:  # a pause between phrases
            at += round(rng.uniform(0.3, 0.9) * rate)
            continue
        length = round(rng.uniform(0.08, 0.3) * rate)
        level = 10 ** (rng.uniform(-32, -8) / 20)
        envelope[at : at + length] = level * np.hanning(length)[: n - at]
        at += length + round(rng.uniform(0.02, 0.12) * rate)
    band = signal.butter(4, [150, min(4000, 0.45 * rate)], "bandpass", fs=rate, output="sos")
    channels_out = [signal.sosfilt(band, rng.standard_normal(n)) * envelope for _ in range(channels)]
    mix = np.stack(channels_out, axis=1) * 3.0
    return np.clip(mix[:, 0] if channels == 1 else mix, -1, 1).astype(np.float32)


def music_like_chords(rate: int, channels: int, seconds: float = 24.0) -> np.ndarray:
    """Triads of harmonic tones, 1.5 s each with attack and decay, in a crescendo from about -40 to -6 dBFS
    and a last quiet chord; the right channel gets the upper voices louder."""
    roots = (220.0, 174.6, 261.6, 196.0, 146.8, 233.1)
    chord_s = 1.5
    count = int(seconds / chord_s)
    t = np.arange(round(chord_s * rate)) / rate
    envelope = np.minimum(t / 0.02, 1.0) * np.exp(-t / 0.9)
    left, right = [], []
    for index in range(count):
        gain = 10 ** ((-40 + 34 * index / max(1, count - 2)) / 20) if index < count - 1 else 10 ** (-45 / 20)
        voices = [roots[index % len(roots)] * ratio for ratio in (1.0, 1.26, 1.5)]
        parts = [sum(np.sin(2 * np.pi * f * h * t) / h for h in range(1, 5)) for f in voices]
        left.append(gain * envelope * (parts[0] + 0.7 * parts[1] + 0.5 * parts[2]) / 3)
        right.append(gain * envelope * (0.5 * parts[0] + 0.8 * parts[1] + parts[2]) / 3)
    mix = np.stack([np.concatenate(left), np.concatenate(right)], axis=1).astype(np.float32)
    return mix[:, 0] if channels == 1 else mix


def loud_then_quiet(rate: int, channels: int) -> np.ndarray:
    part = tone(rate, 6.0, 440.0, -6.0)
    mono = np.concatenate([part, part * 10 ** (-40 / 20)])
    return mono if channels == 1 else stereo(mono)


def measured_pair(samples: np.ndarray, rate: int, wav: Path) -> tuple[Loudness, media.Loudness]:
    """(this meter, ffmpeg ebur128) on the same 16-bit WAV."""
    write_wav(wav, samples, rate)
    decoded, decoded_rate = read_wav(wav)
    return loudness.measure(decoded, decoded_rate), media.measure_loudness(wav)


def assert_agrees_with_ffmpeg(ours: Loudness, ffmpeg: media.Loudness) -> None:
    assert abs(ours.integrated_lufs - ffmpeg.integrated_lufs) <= FFMPEG_TOLERANCE, (ours, ffmpeg)
    assert abs(ours.loudness_range_lu - ffmpeg.loudness_range_lu) <= FFMPEG_TOLERANCE, (ours, ffmpeg)
    assert abs(ours.true_peak_dbtp - ffmpeg.true_peak_dbtp) <= FFMPEG_TOLERANCE, (ours, ffmpeg)


# --- known values -------------------------------------------------------------------------------------------


def test_k_weighting_at_48k_is_the_bs1770_table() -> None:
    shelf, highpass = loudness.k_weighting(48000)
    assert shelf == pytest.approx([1.53512485958697, -2.69169618940638, 1.19839281085285, 1.0, -1.69065929318241,
                                   0.73248077421585], abs=1e-10)  # fmt: skip
    assert highpass == pytest.approx([1.0, -2.0, 1.0, 1.0, -1.99004745483398, 0.99007225036621], abs=1e-10)


@pytest.mark.parametrize("rate", RATES)
def test_k_weighting_response_is_rate_independent(rate: int) -> None:
    """About the same gain (dB) from 30 Hz to 7 kHz whatever the rate: the shelf and the high-pass are re-derived.
    The bilinear transform squeezes the shelf towards Nyquist at 16 kHz: up to 0.11 dB off there (as in ffmpeg)."""
    freqs = [30.0, 100.0, 997.0, 2000.0, 5000.0, 7000.0]
    reference = 20 * np.log10(np.abs(signal.sosfreqz(loudness.k_weighting(48000), freqs, fs=48000)[1]))
    gains = 20 * np.log10(np.abs(signal.sosfreqz(loudness.k_weighting(rate), freqs, fs=rate)[1]))
    assert gains == pytest.approx(reference, abs=0.15 if rate < 44100 else 0.02)


@pytest.mark.parametrize("rate", RATES)
def test_full_scale_997_hz_sine_on_one_channel_reads_minus_3_01(rate: int) -> None:
    result = loudness.measure(tone(rate, 5.0), rate)
    assert result.integrated_lufs == pytest.approx(-3.01, abs=0.05)
    assert result.true_peak_dbtp == pytest.approx(0.0, abs=0.05)
    assert result.loudness_range_lu == pytest.approx(0.0, abs=0.01)
    left_only = loudness.measure(stereo(tone(rate, 5.0), np.zeros(5 * rate, np.float32)), rate)
    assert left_only.integrated_lufs == pytest.approx(result.integrated_lufs, abs=1e-6)


@pytest.mark.parametrize("rate", [8000, 22050, 96000, 192000])
def test_other_rates_including_no_oversampling_at_192k(rate: int) -> None:
    result = loudness.measure(tone(rate, 4.0, dbfs=-6.0), rate)
    assert result.integrated_lufs == pytest.approx(-9.03, abs=0.06)
    assert result.true_peak_dbtp == pytest.approx(-6.0, abs=0.05)


@pytest.mark.parametrize("rate", RATES)
def test_tech_3341_stereo_sine_at_minus_23_dbfs_reads_minus_23_lufs(rate: int) -> None:
    result = loudness.measure(stereo(tone(rate, 20.0, dbfs=-23.0)), rate)
    assert result.integrated_lufs == pytest.approx(-23.0, abs=0.05)
    assert result.true_peak_dbtp == pytest.approx(-23.0, abs=0.05)


def test_mono_and_one_column_and_float64_agree() -> None:
    x = speech_like_bursts(48000, 1, seconds=8.0)
    assert loudness.measure(x, 48000) == loudness.measure(x[:, None], 48000)
    assert loudness.measure(x.astype(np.float64), 48000).integrated_lufs == pytest.approx(
        loudness.measure(x, 48000).integrated_lufs, abs=1e-4
    )


def test_relative_gate_ignores_the_quiet_half() -> None:
    """5 s at -10 dBFS then 5 s 30 dB quieter: the quiet blocks fall under the -10 LU gate, so the result is
    the loud half's loudness (less 0.13 LU from the three blocks straddling the change), not their average."""
    rate = 48000
    loud = tone(rate, 5.0, dbfs=-10.0)
    samples = np.concatenate([loud, loud * 10 ** (-30 / 20)])
    assert loudness.measure(samples, rate).integrated_lufs == pytest.approx(-13.01 - 0.13, abs=0.03)
    blocks = loudness.momentary(samples, rate)
    ungated = -0.691 + 10 * np.log10(np.mean(10 ** ((blocks + 0.691) / 10)))
    assert ungated < -15.5


def test_absolute_gate_drops_blocks_below_minus_70() -> None:
    rate = 48000
    audible = tone(rate, 4.0, dbfs=-20.0)
    whisper = tone(rate, 20.0, dbfs=-75.0)  # -78 LUFS: under the absolute gate, would pull a plain mean far down
    result = loudness.measure(np.concatenate([audible, whisper]), rate)
    assert result.integrated_lufs == pytest.approx(-23.01, abs=0.2)
    assert loudness.measure(whisper, rate).integrated_lufs == SILENCE_LUFS


def test_loudness_range_of_two_levels_is_their_difference() -> None:
    """10 s at one level then 10 s 6 dB lower: the 10th percentile falls in the quiet part, the 95th in the loud."""
    rate = 44100
    loud = tone(rate, 10.0, 440.0, -12.0)
    result = loudness.measure(stereo(np.concatenate([loud, loud * 10 ** (-6 / 20)])), rate)
    assert result.loudness_range_lu == pytest.approx(6.0, abs=0.05)


def test_silence_and_short_input_give_finite_json_safe_floors() -> None:
    for samples in (np.zeros((10 * 48000, 2), np.float32), np.zeros(100, np.float32), np.zeros(0, np.float32)):
        result = loudness.measure(samples, 48000)
        assert result == Loudness(SILENCE_LUFS, TRUE_PEAK_FLOOR_DBTP, 0.0)
        json.dumps(asdict(result), allow_nan=False)  # strict JSON: no -Infinity
    short = loudness.measure(tone(48000, 0.3, dbfs=-6.0), 48000)  # under one 400 ms block: no loudness, a peak
    assert short.integrated_lufs == SILENCE_LUFS and short.true_peak_dbtp == pytest.approx(-6.0, abs=0.05)


def test_true_peak_finds_the_inter_sample_peak() -> None:
    """A sine at fs/4 with 45° phase: every sample sits at 0.707 of the crest, the true peak is the crest."""
    rate = 48000
    x = tone(rate, 3.0, rate / 4, dbfs=-1.0, phase=np.pi / 4)
    x *= np.minimum(1.0, np.minimum(np.arange(x.size), np.arange(x.size)[::-1]) / (0.2 * rate)).astype(np.float32)
    assert 20 * np.log10(np.max(np.abs(x))) == pytest.approx(-4.01, abs=0.02)
    assert loudness.measure(x, rate).true_peak_dbtp == pytest.approx(-1.0, abs=0.05)


def test_true_peak_across_chunk_boundaries_matches_a_short_excerpt() -> None:
    """A click at the 10 s chunk boundary (and one at the end) reads the same as on its own."""
    rate = 48000
    x = tone(rate, 21.0, dbfs=-30.0)
    click = np.hanning(9).astype(np.float32) * np.array([1, -1] * 4 + [1], np.float32) * 0.8
    for at in (10 * rate - 4, x.size - click.size):
        x[at : at + 9] += click
    alone = loudness.measure(np.concatenate([np.zeros(100, np.float32), click, np.zeros(100, np.float32)]), rate)
    assert loudness.measure(x, rate).true_peak_dbtp == pytest.approx(alone.true_peak_dbtp, abs=0.01)


def test_momentary_blocks_every_100_ms() -> None:
    rate = 16000
    values = loudness.momentary(np.concatenate([tone(rate, 2.0, dbfs=-20.0), np.zeros(rate, np.float32)]), rate)
    assert values.shape == (27,)  # blocks end at 0.4, 0.5, ..., 3.0 s
    assert values[:17] == pytest.approx(-23.0, abs=0.1)
    assert values[-1] < -100  # digital silence: only the filters' decaying tails (or -inf)
    assert loudness.short_term(tone(rate, 3.45), rate).shape == (5,)  # 3 s windows end at 3.0, ..., 3.4 s


def test_surround_weights_and_lfe() -> None:
    rate = 48000
    x = tone(rate, 5.0, dbfs=-20.0)
    layout = np.zeros((x.size, 6), np.float32)
    layout[:, 3] = x  # LFE: weight 0
    assert loudness.measure(layout, rate).integrated_lufs == SILENCE_LUFS
    layout[:, 3], layout[:, 4] = 0.0, x  # left surround: +1.5 dB (weight 1.41)
    assert loudness.measure(layout, rate).integrated_lufs == pytest.approx(-23.01 + 10 * math.log10(1.41), abs=0.02)
    with pytest.raises(ValueError, match="weights"):
        loudness.measure(layout, rate, weights=[1.0, 1.0])


# --- against ffmpeg's ebur128 -------------------------------------------------------------------------------

SYNTHETIC = {
    "speech-bursts-16k-mono": (speech_like_bursts, 16000, 1),
    "speech-bursts-48k-stereo": (speech_like_bursts, 48000, 2),
    "chords-44k-stereo": (music_like_chords, 44100, 2),
    "chords-48k-mono": (music_like_chords, 48000, 1),
    "loud-then-quiet-16k-stereo": (loud_then_quiet, 16000, 2),
    "loud-then-quiet-48k-mono": (loud_then_quiet, 48000, 1),
}


@pytest.mark.parametrize("name", SYNTHETIC)
def test_agrees_with_ffmpeg_on_synthetic_signals(name: str, tmp_path: Path) -> None:
    make, rate, channels = SYNTHETIC[name]
    assert_agrees_with_ffmpeg(*measured_pair(make(rate, channels), rate, tmp_path / "x.wav"))


def test_agrees_with_ffmpeg_on_silence(tmp_path: Path) -> None:
    ours, ffmpeg = measured_pair(np.zeros((5 * 48000, 2), np.float32), 48000, tmp_path / "silence.wav")
    assert ours.integrated_lufs == ffmpeg.integrated_lufs == SILENCE_LUFS
    assert ours.loudness_range_lu == ffmpeg.loudness_range_lu == 0.0
    assert ffmpeg.true_peak_dbtp <= ours.true_peak_dbtp == TRUE_PEAK_FLOOR_DBTP  # ffmpeg: -inf


RECORDINGS = {
    "jfk-16k-mono": ("audio/jfk/jfk.flac", 16000, 1),
    "fleurs-en-48k-stereo": ("audio/fleurs/fleurs-en-000.ogg", 48000, 2),
    "fleurs-es-48k-mono": ("audio/fleurs/fleurs-es-003.ogg", 48000, 1),
    "ljspeech-44k-mono": ("audio/ljspeech/LJ001-0001.flac", 44100, 1),
    "grid-cuts-16k-mono": ("video/hard_cases/grid_3speakers_hard_cuts.mp4", 16000, 1),
    "face-48k-stereo": ("video/talking_heads/face_1.mp4", 48000, 2),
    "portrait-44k-stereo": ("video/talking_heads/portrait_demo1.mp4", 44100, 2),
}


@pytest.mark.parametrize("name", RECORDINGS)
def test_agrees_with_ffmpeg_on_real_recordings(name: str, shared_media: Path, tmp_path: Path) -> None:
    relative, rate, channels = RECORDINGS[name]
    samples = media.decode_audio(shared_media / relative, rate, channels)
    assert_agrees_with_ffmpeg(*measured_pair(samples, rate, tmp_path / "x.wav"))


def test_agrees_with_ffmpeg_on_an_episode_of_recordings(shared_media: Path, tmp_path: Path) -> None:
    """About 80 s of LJ Speech and FLEURS clips at gains from -12 to +4 dB with pauses: a real loudness range."""
    rate = 48000
    clips = sorted((shared_media / "audio" / "ljspeech").glob("*.flac"))[:4]
    clips += sorted((shared_media / "audio" / "fleurs").glob("*.ogg"))[:4]
    parts = []
    for index, clip in enumerate(clips):
        gain = 10 ** ((-12 + 16 * (index % 4) / 3) / 20)
        parts += [media.decode_audio(clip, rate, 2) * gain, np.zeros((rate // 2, 2), np.float32)]
    samples = np.clip(np.concatenate(parts), -1, 1)
    ours, ffmpeg = measured_pair(samples, rate, tmp_path / "episode.wav")
    assert ffmpeg.loudness_range_lu > 5.0
    assert_agrees_with_ffmpeg(ours, ffmpeg)
