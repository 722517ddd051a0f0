"""Shots, face tracks and the active speaker (dubkit.lipsync.tracks)."""

from __future__ import annotations

import numpy as np
import pytest

from dubkit.lipsync import tracks
from dubkit.lipsync.faces import Face, iou

RATE = 16000


def test_iou():
    a = np.array([0.0, 0.0, 0.5, 0.5])
    assert iou(a, a) == pytest.approx(1.0)
    assert iou(a, np.array([0.25, 0.0, 0.75, 0.5])) == pytest.approx(1 / 3)
    assert iou(a, np.array([0.6, 0.6, 0.9, 0.9])) == 0.0


def test_histogram_distance_separates_cuts_from_motion():
    y, x = np.mgrid[0:120, 0:170]
    world = np.stack([x * 255 // 170, y * 255 // 120, (x + y) * 255 // 290], axis=-1).astype(np.uint8)
    scene, moved = world[:, :160], world[:, 3:163]  # a small pan: nearly the same colours
    other = (scene // 2 + 100).astype(np.uint8)  # another scene: other colours
    same = tracks._distance(tracks._histogram(scene), tracks._histogram(moved))
    cut = tracks._distance(tracks._histogram(scene), tracks._histogram(other))
    assert same < 0.1 < tracks.CUT_DISTANCE < cut


def test_faces_join_the_overlapping_track_of_their_shot():
    builder = tracks._Tracks()
    left, right = np.array([0.1, 0.3, 0.3, 0.8]), np.array([0.6, 0.3, 0.8, 0.8])
    corners = np.zeros((2, 2))
    for frame in range(3):
        builder.add(0, frame, Face(left + 0.01 * frame, 0.1, corners))
        builder.add(0, frame, Face(right, 0.2, corners))
        builder.end_frame(0)
    builder.add(1, 3, Face(left, 0.3, corners))  # same place, next shot: a new face
    builder.end_frame(1)
    found = builder.tracks()
    assert [(t.shot, t.frames.tolist()) for t in found] == [(0, [0, 1, 2]), (0, [0, 1, 2]), (1, [3])]
    assert found[1].opening.tolist() == [0.2, 0.2, 0.2] and found[1].corners.shape == (3, 2, 2)


@pytest.fixture(scope="module")
def hard_cases(shared_media):
    pytest.importorskip("mediapipe", reason="mediapipe is not installed (pip install 'dubkit[lipsync]')")
    return shared_media / "video" / "hard_cases"


@pytest.mark.slow
def test_hard_cuts_restart_the_tracks(hard_cases):
    clip = hard_cases / "grid_3speakers_hard_cuts.mp4"
    analysis = tracks.analyse(clip)
    assert analysis.shots == (0, 75, 150)
    assert [t.shot for t in analysis.tracks] == [0, 1, 2]
    for track in analysis.tracks:
        assert {analysis.shot_of(int(f)) for f in track.frames} == {track.shot}
        assert len(track.frames) >= 70
    audio = _audio(clip)
    for shot, start in enumerate((0.0, 3.0, 6.0)):
        speaker = tracks.active_speaker(analysis, audio, RATE, start, start + 3.0)
        assert speaker is not None and speaker[0].shot == shot


@pytest.mark.slow
def test_the_speaking_face_of_two_is_found(hard_cases):
    """Left face speaks 0-3 s while the right is frozen, then the other way round."""
    clip = hard_cases / "grid_2speakers_side_by_side_turns.mp4"
    analysis = tracks.analyse(clip)
    assert analysis.shots == (0,) and len(analysis.tracks) == 2
    left, right = sorted(analysis.tracks, key=lambda t: t.boxes[:, 0].mean())
    assert left.boxes[:, 2].max() < 0.5 < right.boxes[:, 0].min()
    audio = _audio(clip)
    for start, speaking in ((0.0, left), (1.5, left), (3.0, right), (4.5, right)):
        found = tracks.active_speaker(analysis, audio, RATE, start, start + 1.5)
        assert found is not None and found[0].id == speaking.id, (start, found)


@pytest.mark.slow
def test_no_face_gives_no_track_and_no_speaker(tmp_path, hard_cases):
    from PIL import Image

    from dubkit import audio as audio_io
    from dubkit import media

    Image.new("RGB", (320, 240), (40, 90, 160)).save(tmp_path / "sky.png")
    t = np.arange(RATE * 3) / RATE
    audio_io.write_wav(tmp_path / "tone.wav", (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), RATE)
    clip = media.still_video(tmp_path / "sky.png", tmp_path / "tone.wav", tmp_path / "sky.mp4", fps=25)
    analysis = tracks.analyse(clip)
    assert analysis.tracks == () and analysis.shots == (0,) and len(analysis.times_s) >= 70
    assert tracks.active_speaker(analysis, _audio(clip), RATE, 0.0, 3.0) is None


def _audio(clip) -> np.ndarray:
    from dubkit import media

    return media.decode_audio(clip, RATE, 1).reshape(-1)


def test_a_face_reported_twice_in_a_frame_counts_once():
    from dubkit.lipsync.faces import distinct

    corners = np.zeros((2, 2))
    face = Face(np.array([0.40, 0.30, 0.66, 0.45]), 0.1, corners)
    echo = Face(np.array([0.47, 0.32, 0.65, 0.44]), 0.1, corners)  # the same face, a drifting second report
    other = Face(np.array([0.05, 0.30, 0.30, 0.45]), 0.1, corners)  # a face beside it
    assert distinct([echo, face, other]) == [face, other]


def _still_track(track_id: int, frames: np.ndarray) -> tracks.FaceTrack:
    count = len(frames)
    return tracks.FaceTrack(track_id, 0, frames, np.zeros((count, 4)), np.zeros(count), np.zeros((count, 2, 2)))


def test_windows_fade_in_and_out_and_overlapping_windows_do_not():
    """A window's first and last frames show part of the re-animated mouth, more with each frame; where windows of
    a track overlap or abut, their shared edges do not fade; the frames eased are exactly those planned."""
    frames = np.arange(150)
    analysis = tracks.Analysis(frames / 25.0, (0,), (_still_track(0, frames), _still_track(1, frames)))
    windows = {0: [(0.4, 1.2), (1.0, 2.0), (2.0, 2.4)], 1: [(3.0, 3.16), (4.0, 5.0)]}
    weights = tracks.eases(analysis, windows)
    assert set(weights) == set(tracks.plan(analysis, windows))
    ramp = [min(1.0, k * 0.04 / tracks.EASE_S) for k in range(5)]  # 25 fps: 0.04 s a frame
    assert [weights[f] for f in range(10, 15)] == pytest.approx(ramp)  # fades in from frame 10 (0.4 s)
    assert [weights[f] for f in range(56, 60)] == pytest.approx(ramp[:0:-1])  # ... out to frame 59 (2.4 s excluded)
    assert all(weights[f] == 1.0 for f in range(13, 58))  # no fade where the windows overlap (25-29) or abut (50)
    assert [weights[f] for f in range(75, 79)] == pytest.approx([0.0, 1 / 3, 2 / 3, 1 / 3])  # a short one
    assert not {9, 60, 74, 79, 99, 125} & set(weights)


def test_a_lines_window_opens_before_it_and_closes_after_it():
    """The speaking face's window runs from a lead-in before its line (not before the video) to a tail after the
    dubbed line's end, the later of the two ends."""
    from dubkit.job import LineFit
    from dubkit.script import Segment
    from dubkit.stages import lipsync

    fps, frames = 25.0, 200
    loudness = np.resize(np.r_[np.zeros(4), np.linspace(0.1, 1.0, 6), np.zeros(3)], frames)
    noise = np.random.default_rng(2).standard_normal(int(frames / fps * RATE))
    speech = (noise * np.repeat(loudness, RATE // int(fps))).astype(np.float32)
    track = _still_track(0, np.arange(frames))
    track = tracks.FaceTrack(0, 0, track.frames, track.boxes, loudness * 0.1, track.corners)  # the mouth follows
    analysis = tracks.Analysis(np.arange(frames) / fps, (0,), (track,))
    segments = [Segment("a", 100, 3000, "one"), Segment("b", 4000, 7000, "two")]
    lines = [LineFit("a", 100, 2800, 1.0, 1.0, 0, True), LineFit("b", 4000, 7400, 1.0, 1.0, 0, True)]
    windows = lipsync.speaking_windows(analysis, segments, lines, speech, RATE)
    assert windows == {0: [(0.0, 3.0 + lipsync.TAIL_S), (4.0 - lipsync.LEAD_S, pytest.approx(7.4 + lipsync.TAIL_S))]}
