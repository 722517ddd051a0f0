"""The CPU exemplar lip-sync backend: geometry, targets, and real clips re-timed to another clip's speech."""

from __future__ import annotations

import dataclasses
from pathlib import Path

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


def resting_open(frames: int) -> np.ndarray:
    """The openings of an actor who rests with the lips apart: most frames near the widest, a few closed."""
    rng = np.random.default_rng(3)
    opening = rng.uniform(0.085, 0.11, frames)
    opening[: frames // 10] = rng.uniform(0.025, 0.035, frames // 10)
    return opening


def syllables(frames: int, fps: float = 25.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Speech in bursts of rising loudness with pauses between them: the samples, each frame's loudness (0 in
    pauses), and the frames well inside a pause (two frames from speech: the envelope and smoothing spill over)."""
    pattern = np.r_[np.zeros(6), np.linspace(0.05, 0.5, 8)]
    loudness = np.resize(pattern, frames)
    noise = np.random.default_rng(4).standard_normal(int(frames * RATE / fps))
    silent = loudness == 0
    paused = silent & np.roll(silent, 1) & np.roll(silent, 2) & np.roll(silent, -1) & np.roll(silent, -2)
    return (noise * np.repeat(loudness, RATE // int(fps))[: len(noise)]).astype(np.float32), loudness, paused


def test_targets_span_the_actors_range_not_its_distribution():
    """An actor who mostly holds the lips apart: syllables still range from nearly closed to wide, most of them
    well short of the widest (a rank onto the actor's own openings would show nearly the widest on every one)."""
    frames = 112
    opening = resting_open(frames)
    speech, loudness, paused = syllables(frames)
    target = exemplar.target_openings(opening, np.arange(frames) / 25.0, speech, RATE)
    closed, wide = np.quantile(opening, [exemplar.CLOSED, exemplar.WIDE])
    speaking = loudness > 0
    assert np.allclose(target[paused], closed)  # pauses: closed
    assert target[speaking].max() >= closed + 0.8 * (wide - closed)  # the loudest: wide
    assert np.median(target[speaking]) < closed + 0.5 * (wide - closed)  # the rest in between, not all wide
    assert np.corrcoef(target[speaking], loudness[speaking])[0, 1] > 0.8


def test_exemplars_cover_the_range_where_the_actor_seldom_goes():
    """Exemplars at evenly spaced openings: the rarely seen closed mouth gets several, not one."""
    opening = resting_open(200)
    picked = opening[exemplar._exemplar_positions(opening, 16)]
    assert np.count_nonzero(picked < 0.05) >= 3
    assert picked.min() <= np.quantile(opening, 0.03) and picked.max() >= np.quantile(opening, 0.97)


HEIGHT, WIDTH = 240, 320
CORNERS_PX = np.array([[120.0, 140.0], [200.0, 140.0]])  # an 80 px mouth
BOX_PX = np.array([90.0, 10.0, 230.0, 200.0])  # a 190 px face, the chin at row 200
CORNERS = CORNERS_PX / (WIDTH, HEIGHT)
BOX = BOX_PX / (WIDTH, HEIGHT, WIDTH, HEIGHT)


def face_picture(gap: int, chin_line: int) -> np.ndarray:
    """Skin, lips parted by *gap* rows of dark interior on the corner line, and a blue line across the chin."""
    rng = np.random.default_rng(5)
    rgb = np.clip(np.array([200.0, 155.0, 130.0]) + rng.normal(0, 2, (HEIGHT, WIDTH, 3)), 0, 255).astype(np.uint8)
    rgb[134:140, 125:196] = (170, 85, 85)  # upper lip
    rgb[140 : 140 + gap, 128:193] = (60, 25, 25)  # the gap
    rgb[140 + gap : 147 + gap, 125:196] = (185, 95, 95)  # lower lip, carried down with the jaw
    rgb[chin_line : chin_line + 3, 135:186] = (0, 0, 255)
    return rgb


def blue_rows(rgb: np.ndarray, column: int = 160) -> np.ndarray:
    strip = rgb[150:, column].astype(int)
    return np.flatnonzero(strip[:, 2] - strip[:, 0] > 80) + 150


def test_the_blend_carries_the_jaw_and_changes_nothing_outside_the_lower_face():
    """Another opening's mouth *and* chin replace the frame's, and only between just over the upper lip and a
    little below the chin: every pixel outside is as it was."""
    shut, wide = face_picture(0, 172), face_picture(16, 186)  # the open jaw carries the chin line 14 rows lower
    patch = exemplar.canonical(wide, CORNERS)
    out = exemplar.render(shut, CORNERS, patch, BOX)
    assert set(blue_rows(out)) & {186, 187, 188} and not set(blue_rows(out)) & {172, 173, 174}
    assert (out[143:152, 150:170].astype(int).sum(axis=2) < 250).mean() > 0.8  # the gap is dark
    changed = np.any(out != shut, axis=2)
    rows, cols = np.nonzero(changed)
    face = BOX_PX[3] - BOX_PX[1]
    assert rows.min() >= CORNERS_PX[:, 1].min() - exemplar.LIP_MARGIN * face - 1
    assert BOX_PX[3] < rows.max() <= BOX_PX[3] + exemplar.CHIN_MARGIN * face + 1  # down over the chin
    assert cols.min() >= BOX_PX[0] and cols.max() <= BOX_PX[2]
    lips_only = exemplar.render(shut, CORNERS, patch)  # without the face box: round the lips only, as before
    lips_rows = np.nonzero(np.any(lips_only != shut, axis=2))[0]
    mouth = CORNERS_PX[1, 0] - CORNERS_PX[0, 0]
    reach = (exemplar.CENTRE[1] - exemplar.LEFT[1] + exemplar.RADII[1]) / (exemplar.RIGHT[0] - exemplar.LEFT[0])
    assert lips_rows.max() <= CORNERS_PX[0, 1] + reach * mouth + 1 < BOX_PX[3]


def test_a_weaker_blend_lies_between_the_frame_and_the_patch():
    shut, wide = face_picture(0, 172), face_picture(16, 186)
    patch = exemplar.canonical(wide, CORNERS)
    full = exemplar.render(shut, CORNERS, patch, BOX).astype(float)
    half = exemplar.render(shut, CORNERS, patch, BOX, strength=0.5).astype(float)
    assert np.array_equal(exemplar.render(shut, CORNERS, patch, BOX, strength=0.0), shut)
    changed = (np.abs(full - shut) > 20) & (full > 0) & (full < 255)  # (a clipped pixel has no exact middle)
    assert changed.sum() > 500 and np.abs(half - (full + shut) / 2)[changed].max() <= 1.0


def test_a_patch_of_a_face_turned_aside_keeps_to_the_lips():
    """An exemplar whose face sat sideways of the frame's (another pose): its chin would land beside this one,
    so the blend stays round the lips; a little aside, it reaches part of the way down."""
    shut, wide = face_picture(0, 172), face_picture(16, 186)
    patch = exemplar.canonical(wide, CORNERS)
    face = exemplar.face_on_canvas(shut.shape, CORNERS, BOX)
    assert face is not None and abs(face.x - 64.0) < 1 and face.chin > exemplar.LEFT[1]
    width = exemplar.RIGHT[0] - exemplar.LEFT[0]
    near, far = exemplar.TURNED
    aside = [dataclasses.replace(face, x=face.x + share * width) for share in (0.0, (near + far) / 2, far + 0.05)]
    downs = [exemplar.reach(shut.shape, CORNERS, BOX, source)[1] for source in aside]
    assert downs[0] == exemplar.reach(shut.shape, CORNERS, BOX)[1] > downs[1] > downs[2] == exemplar.RADII[1]
    turned = exemplar.render(shut, CORNERS, patch, BOX, aside[2])
    lips = (exemplar.CENTRE[1] - exemplar.LEFT[1] + exemplar.RADII[1]) / width * (CORNERS_PX[1, 0] - CORNERS_PX[0, 0])
    assert np.nonzero(np.any(turned != shut, axis=2))[0].max() <= CORNERS_PX[0, 1] + lips + 1


def resting_actor(monkeypatch: pytest.MonkeyPatch, frames: int, fps: float = 25.0):  # noqa: ANN201
    """Pictures of an actor who rests with the lips apart (`resting_open`), served as the video's frames, their
    face analysis, and each picture's gap in rows (4-5 closed, 14-18 open)."""
    from dubkit import media
    from dubkit.lipsync.tracks import Analysis

    opening = resting_open(frames)
    gaps = np.rint(opening * 160).astype(int)
    pictures = {i: face_picture(int(gaps[i]), 180 + int(gaps[i])) for i in range(frames)}
    monkeypatch.setattr(
        media,
        "video_frames",
        lambda video, only=None, **_: (media.Frame(i, i / fps, pictures[i]) for i in sorted(only)),
    )
    track = FaceTrack(0, 0, np.arange(frames), np.tile(BOX, (frames, 1)), opening, np.tile(CORNERS, (frames, 1, 1)))
    return pictures, Analysis(np.arange(frames) / fps, (0,), (track,)), gaps


def synced(pictures: dict, analysis, speech: np.ndarray, windows: dict) -> list[np.ndarray]:  # noqa: ANN001
    """The exemplar engine's pictures for *pictures* re-timed to *speech* inside *windows*."""
    from dubkit import media

    shown = (media.Frame(i, float(analysis.times_s[i]), pictures[i]) for i in range(len(pictures)))
    return list(exemplar.ExemplarSyncer().sync(Path("x"), shown, speech, RATE, analysis, windows))


def test_an_actor_who_rests_open_closes_in_pauses_and_opens_by_loudness(monkeypatch):
    """Exemplars of an actor mostly seen with the lips apart, re-timed to speech with pauses: the pauses show the
    closed mouth, the syllables a gap growing with loudness, not the same wide mouth on every one."""
    frames = 112
    pictures, analysis, gaps = resting_actor(monkeypatch, frames)
    speech, loudness, paused = syllables(frames)
    out = synced(pictures, analysis, speech, {0: [(0.0, 10.0)]})
    dark = np.array([np.count_nonzero(picture[138:165, 160].astype(int).sum(axis=1) < 250) for picture in out])
    speaking = loudness > 0
    assert dark[paused].max() <= gaps.min() + 2  # closed in pauses, though this actor seldom closes
    assert dark[speaking].max() >= 14  # wide on the loudest
    assert np.median(dark[speaking]) <= 10  # most syllables in between
    assert np.corrcoef(dark[speaking], loudness[speaking])[0, 1] > 0.7
    for before, after in zip((pictures[i] for i in range(frames)), out, strict=True):
        assert np.array_equal(before[:120], after[:120]) and np.array_equal(before[225:], after[225:])


def test_the_new_mouth_fades_in_and_out_at_a_windows_edges(monkeypatch):
    """The frames at a window's edges blend the actor's own mouth with the re-animated one, by `tracks.eases`; the
    frames around the window are as they were."""
    from dubkit.lipsync import tracks

    frames = 112
    pictures, analysis, _ = resting_actor(monkeypatch, frames)
    speech, _, _ = syllables(frames)
    windows = {0: [(1.0, 3.0)]}  # frames 25-74
    eased, weights = synced(pictures, analysis, speech, windows), tracks.eases(analysis, windows)
    monkeypatch.setattr(tracks, "EASE_S", 1e-9)
    sharp = synced(pictures, analysis, speech, windows)
    assert weights[25] == 0.0 and 0 < weights[26] < weights[27] < 1 and weights[74] < 1
    for index in (*range(25), *range(75, frames)):
        assert np.array_equal(eased[index], pictures[index]) and np.array_equal(sharp[index], pictures[index])
    for index in range(25, 75):
        own, full = pictures[index].astype(float), sharp[index].astype(float)
        expected = weights[index] * full + (1 - weights[index]) * own
        exact = (full > 0) & (full < 255)  # a clipped pixel has no exact share
        assert np.abs(eased[index] - expected)[exact].max() <= 1.0, index
    assert sum(not np.array_equal(sharp[i], pictures[i]) for i in range(25, 75)) > 25  # the window re-animates


@pytest.fixture(scope="module")
def grid(shared_media):
    pytest.importorskip("mediapipe", reason="mediapipe is not installed (pip install 'dubkit[lipsync]')")
    return shared_media / "video"


@pytest.mark.slow
@pytest.mark.parametrize(("clip", "speech"), [("bbaf2n", "swiz3n"), ("sbia1a", "brbk7n"), ("swiz3n", "lbbc2a")])
def test_mouth_follows_the_new_speech(grid, tmp_path, clip, speech):
    """Sync confidence against the new speech: clearly higher after than for the untouched picture (swiz3n's
    actor rests with the lips apart: his syllables must still range from closed to wide)."""
    from dubkit import media
    from dubkit.lipsync import tracks
    from dubkit.lipsync.faces import mouth_track
    from dubkit.lipsync.sync import estimate

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
    assert after.confidence > before.confidence + 0.3 and after.confidence >= 0.7, (before, after)
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
        chin = y1 + exemplar.CHIN_MARGIN * (y1 - y0) + 2  # the jaw moves with the lips: a little below the chin
        assert rows.min() >= y0 + 0.5 * (y1 - y0) and rows.max() <= chin  # the lower face only
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
