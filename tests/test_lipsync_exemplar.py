"""The CPU exemplar lip-sync backend: geometry, targets, and real clips re-timed to another clip's speech."""

from __future__ import annotations

import numpy as np
import pytest

from dubkit.backends import lipsync_exemplar as exemplar
from dubkit.lipsync.tracks import FaceTrack

RATE = 16000


def test_similarity_maps_the_two_points():
    src = np.array([[10.0, 20.0], [30.0, 25.0]])
    dst = np.array([[100.0, 50.0], [140.0, 70.0]])
    matrix = exemplar._similarity(src, dst)
    mapped = np.c_[src, np.ones(2)] @ matrix.T
    assert np.allclose(mapped, dst)


def test_targets_close_the_mouth_in_pauses_and_follow_loudness():
    frames = 100
    track = FaceTrack(0, 0, np.arange(frames), np.zeros((frames, 4)), np.linspace(0.0, 0.2, frames), np.zeros(0))
    times = np.arange(frames) / 25.0
    silent = exemplar.target_openings(track.opening, times, np.zeros(RATE * 4, np.float32), RATE)
    assert np.allclose(silent, np.quantile(track.opening, 0.05))
    rng = np.random.default_rng(0)
    loud = np.repeat(np.r_[np.zeros(50), np.linspace(0.05, 0.5, 50)], RATE // 25)
    speech = (rng.standard_normal(len(loud)) * loud).astype(np.float32)
    target = exemplar.target_openings(track.opening, times, speech, RATE)
    assert target[5:45].max() <= np.quantile(track.opening, 0.06)  # the first 2 s are silent: closed
    assert target[60] < target[80] < target[98]  # louder, wider


@pytest.fixture(scope="module")
def grid(shared_media):
    pytest.importorskip("mediapipe", reason="mediapipe is not installed (pip install 'dubkit[lipsync]')")
    return shared_media / "video"


@pytest.mark.slow
@pytest.mark.parametrize(("clip", "speech"), [("bbaf2n", "swiz3n"), ("sbia1a", "brbk7n")])
def test_mouth_follows_the_new_speech(grid, tmp_path, clip, speech):
    """Sync confidence against the new speech: clearly higher after than for the untouched picture."""
    from dubkit import media
    from dubkit.lipsync import tracks
    from dubkit.lipsync.faces import mouth_track
    from dubkit.qa.sync import estimate

    video = grid / "grid" / f"{clip}.mpg"
    dub = media.decode_audio(grid / "grid" / f"{speech}.mpg", RATE, 1).reshape(-1)
    analysis = tracks.analyse(video)
    speaker = max(analysis.tracks, key=lambda t: len(t.frames))
    windows = {speaker.id: [(0.0, 10.0)]}
    synced = exemplar.ExemplarSyncer().sync(video, media.video_frames(video), dub, RATE, analysis, windows)
    out = media.write_video(synced, tmp_path / "out.mp4", media.probe(video).fps)
    before = estimate(mouth_track(video), dub, RATE)
    after = estimate(mouth_track(out), dub, RATE)
    assert before is not None and after is not None
    assert after.confidence > before.confidence + 0.3, (before, after)
    assert abs(after.offset_frames) <= 2


@pytest.mark.slow
def test_only_the_chosen_mouth_changes(grid):
    """Two faces side by side: re-animating the left one leaves the right face and the rest untouched."""
    from dubkit import media
    from dubkit.lipsync import tracks

    video = grid / "hard_cases" / "grid_2speakers_side_by_side_turns.mp4"
    dub = media.decode_audio(grid / "grid" / "swiz3n.mpg", RATE, 1).reshape(-1)
    analysis = tracks.analyse(video)
    left = min(analysis.tracks, key=lambda t: t.boxes[:, 0].mean())
    originals = [frame.rgb for frame in media.video_frames(video)]
    windows = {left.id: [(0.0, 10.0)]}
    synced = list(exemplar.ExemplarSyncer().sync(video, media.video_frames(video), dub, RATE, analysis, windows))
    assert len(synced) == len(originals)
    changed_frames = 0
    for index, (before, after) in enumerate(zip(originals, synced, strict=True)):
        changed = np.any(before != after, axis=2)
        if not changed.any():
            continue
        changed_frames += 1
        rows, cols = np.nonzero(changed)
        height, width = changed.shape
        position = int(np.searchsorted(left.frames, index))
        x0, y0, x1, y1 = left.boxes[position] * (width, height, width, height)
        assert cols.max() < width / 2 and x0 - 2 <= cols.min() and cols.max() <= x1 + 2
        assert rows.min() >= y0 + 0.5 * (y1 - y0) and rows.max() <= y1 + 2  # the lower face only
    assert changed_frames >= len(left.frames) // 2


def test_a_still_face_is_warped_while_the_dub_speaks_and_left_alone_in_pauses():
    """A photo's mouth never moves, so there are no exemplars: the engine opens it geometrically instead."""
    from dubkit import media
    from dubkit.lipsync.tracks import Analysis

    frames, fps = 50, 25.0
    rgb = np.full((96, 128, 3), 180, np.uint8)
    rgb[60:64, 40:88] = (150, 60, 60)  # lips
    corners = np.array([[40 / 128, 62 / 96], [88 / 128, 62 / 96]])
    box = np.array([20 / 128, 5 / 96, 108 / 128, 90 / 96])
    track = FaceTrack(
        0, 0, np.arange(frames), np.tile(box, (frames, 1)), np.full(frames, 0.02), np.tile(corners, (frames, 1, 1))
    )
    assert exemplar.opening_spread(track.opening) < exemplar.MIN_SPREAD
    analysis = Analysis(np.arange(frames) / fps, (0,), (track,))
    loud = np.repeat(np.r_[np.zeros(25), np.ones(25)], RATE // int(fps))
    speech = (np.random.default_rng(1).standard_normal(len(loud)) * 0.3 * loud).astype(np.float32)
    pictures = (media.Frame(i, i / fps, rgb) for i in range(frames))
    out = list(exemplar.ExemplarSyncer().sync(None, pictures, speech, RATE, analysis, {0: [(0.0, 2.0)]}))
    assert all(picture is rgb for picture in out[:20])  # silence: the frame as it was
    assert sum(not np.array_equal(picture, rgb) for picture in out[28:]) >= 20  # speech: the mouth opens
    assert all(np.array_equal(picture[:55], rgb[:55]) for picture in out)  # nothing above the lips moves
