"""Sync measure (dubkit.lipsync.sync): synthetic signals, then the real clips with their audio shifted."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dubkit.lipsync.faces import MouthTrack
from dubkit.lipsync.sync import estimate, speech_envelope

RATE = 16000
FPS = 25.0


def _syllables(frames: int, seed: int = 0) -> np.ndarray:
    """A mouth that opens and closes irregularly, like speech: smoothed random bursts."""
    rng = np.random.default_rng(seed)
    bursts = (rng.random(frames) < 0.25) * rng.uniform(0.05, 0.15, frames)
    return np.convolve(bursts, np.hanning(5), mode="same")


def _voice_following(mouth: np.ndarray, delay_frames: int, seed: int = 1) -> np.ndarray:
    """Band-limited noise whose loudness follows the mouth, *delay_frames* later."""
    rng = np.random.default_rng(seed)
    per_frame = int(RATE / FPS)
    loudness = np.roll(mouth, delay_frames)
    if delay_frames > 0:
        loudness[:delay_frames] = 0
    elif delay_frames < 0:
        loudness[delay_frames:] = 0
    gain = np.repeat(loudness, per_frame)[per_frame // 2 :]  # each frame's loudness centred on its time
    return (rng.standard_normal(len(gain)) * gain).astype(np.float32)


def _track(opening: np.ndarray) -> MouthTrack:
    return MouthTrack(np.arange(len(opening)) / FPS, opening)


@pytest.mark.parametrize("delay", [0, 5, -3, 8])
def test_recovers_a_known_delay(delay):
    mouth = _syllables(250)
    result = estimate(_track(mouth), _voice_following(mouth, delay), RATE)
    assert result is not None and round(result.offset_frames) == delay
    assert abs(result.offset_ms - delay * 40) < 20
    assert result.confidence > 0.5 and result.frames == 250


def test_a_picture_that_ignores_the_sound_has_low_confidence():
    mouth = _syllables(250, seed=0)
    unrelated = _voice_following(_syllables(250, seed=7), 0)
    followed = estimate(_track(mouth), _voice_following(mouth, 0), RATE)
    ignored = estimate(_track(mouth), unrelated, RATE)
    assert followed is not None and ignored is not None
    assert ignored.confidence < followed.confidence / 2


def test_no_face_or_too_short_is_no_measurement():
    audio = np.zeros(RATE * 4, np.float32)
    assert estimate(_track(np.full(100, np.nan)), audio, RATE) is None
    assert estimate(_track(_syllables(10)), audio, RATE) is None


def test_dropped_frames_and_missing_faces_are_bridged():
    mouth = _syllables(250)
    keep = np.ones(250, bool)
    keep[::7] = False  # a camera that drops every 7th frame
    opening = mouth.copy()
    opening[100:110] = np.nan  # the face is lost for 10 frames
    track = MouthTrack((np.arange(250) / FPS)[keep], opening[keep])
    result = estimate(track, _voice_following(mouth, 4), RATE)
    assert result is not None and round(result.offset_frames) == 4


def test_window_limits_the_measure():
    mouth = _syllables(500)
    audio = _voice_following(mouth, 3)
    whole = estimate(_track(mouth), audio, RATE)
    half = estimate(_track(mouth), audio, RATE, start_s=10.0, end_s=20.0)
    assert whole is not None and half is not None
    assert half.frames == 250 and round(half.offset_frames) == 3


def test_a_short_window_judges_every_lag_on_the_whole_window():
    """A line is a second or two: every lag compares the whole window with the speech that far away (beyond the
    window), not a shrinking overlap, whose few frames agree by chance at large lags (0.80 of these windows
    within a frame when the overlap shrank)."""
    mouth = _syllables(1000, seed=3)
    noisy = mouth + np.random.default_rng(5).normal(0, 0.06, len(mouth))  # a landmark tracker's jitter
    audio = _voice_following(mouth, 4)
    found = [estimate(_track(noisy), audio, RATE, start, start + 1.0, 500.0) for start in np.arange(1.0, 38.0, 0.5)]
    offsets = np.array([result.offset_frames for result in found if result is not None])
    assert len(offsets) == len(found) and np.mean(np.abs(offsets - 4) <= 1) >= 0.9


def test_the_first_window_sees_silence_before_the_sound():
    """Lags reaching before the sound's start compare with silence, as they should (nothing was said then)."""
    mouth = _syllables(250)
    result = estimate(_track(mouth), _voice_following(mouth, -3), RATE, 0.0, 1.5)
    assert result is not None and round(result.offset_frames) == -3


def test_envelope_follows_the_speech_band():
    t = np.arange(RATE) / RATE
    tone = np.sin(2 * np.pi * 1000 * t).astype(np.float32)
    hum = np.sin(2 * np.pi * 60 * t).astype(np.float32)
    times = np.array([0.25, 0.5, 0.75])
    assert np.all(speech_envelope(tone, RATE, times) > 0.5)
    assert np.all(speech_envelope(hum, RATE, times) < 0.01)


# --- real clips ------------------------------------------------------------------------------------------

GRID = ["bbaf2n", "brbk7n", "lbax4n", "lbbc2a", "lrwp9a", "lwbsza", "pwij3p", "sbia1a", "sbwe5n", "swiz3n"]
SHIFTS_MS = (200, -120)


@pytest.fixture(scope="module")
def measured(shared_media):
    pytest.importorskip("mediapipe", reason="mediapipe is not installed (pip install 'dubkit[lipsync]')")
    from dubkit import media
    from dubkit.lipsync.faces import mouth_track

    cache: dict[Path, tuple[MouthTrack, np.ndarray]] = {}

    def get(path: Path) -> tuple[MouthTrack, np.ndarray]:
        if path not in cache:
            cache[path] = (mouth_track(path), media.decode_audio(path, RATE, 1).reshape(-1))
        return cache[path]

    return get


def _shifted(audio: np.ndarray, shift_ms: int) -> np.ndarray:
    """The soundtrack made late (+) or early (−) by *shift_ms*."""
    samples = int(RATE * shift_ms / 1000)
    return np.concatenate([np.zeros(samples, np.float32), audio]) if samples > 0 else audio[-samples:]


@pytest.mark.slow
@pytest.mark.parametrize("name", GRID)
def test_grid_clips_are_in_sync_and_shifts_are_recovered(measured, shared_media, name):
    track, audio = measured(shared_media / "video" / "grid" / f"{name}.mpg")
    original = estimate(track, audio, RATE)
    assert original is not None and abs(round(original.offset_frames)) <= 1, original
    for shift in SHIFTS_MS:
        moved = estimate(track, _shifted(audio, shift), RATE)
        expected = shift * moved.fps / 1000
        assert abs(round(moved.offset_frames - expected)) <= 1, (shift, moved)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["face_1.mp4", "face_4.mp4", "portrait_demo1.mp4"])
def test_talking_heads_shifts_are_recovered(measured, shared_media, name):
    """In-the-wild clips: each shift moves the estimate by the shift (± 1 frame) from the clip's own."""
    track, audio = measured(shared_media / "video" / "talking_heads" / name)
    original = estimate(track, audio, RATE)
    assert original is not None
    for shift in SHIFTS_MS:
        moved = estimate(track, _shifted(audio, shift), RATE)
        expected = original.offset_frames + shift * moved.fps / 1000
        assert abs(round(moved.offset_frames - expected)) <= 1, (shift, original, moved)


@pytest.mark.slow
def test_a_clip_whose_clock_starts_late_measures_as_the_original(measured, shared_media, tmp_path):
    """An MPEG-TS starts its clock at 1.4 s: picture and sound are still measured on one timeline."""
    from tests.media_fixtures import remuxed

    clip = shared_media / "video" / "grid" / "bbaf2n.mpg"
    ts = remuxed(clip, tmp_path / "bbaf2n.ts", "mpegts")
    original, copied = (estimate(*measured(path), RATE) for path in (clip, ts))
    assert original is not None and copied is not None
    assert copied.offset_frames == pytest.approx(original.offset_frames, abs=0.05), (original, copied)
