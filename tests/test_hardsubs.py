"""Burned-in subtitles read back: FLORES-200 Chinese sentences drawn onto real footage (Pillow, a Debian CJK font,
white with a black outline) at two sizes and two heights; the band is found, the cues' in and out points land
within a frame, and PP-OCRv4 reads them with at most 2 % character error. A static sign is no band."""

from __future__ import annotations

from pathlib import Path

import pytest

from dubkit import hardsubs, media
from tests.hardsub_clips import FOOTAGE, HEIGHT, Burned, burn_clip, draw, letters
from tests.media_fixtures import real

CASES = {"large-bottom": (34, 0.86), "small-lower": (26, 0.74)}


@pytest.fixture(scope="module", params=sorted(CASES))
def burned(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Burned:
    font_px, centre_y = CASES[request.param]
    return burn_clip(tmp_path_factory.mktemp("hardsubs") / f"{request.param}.mp4", font_px, centre_y)


def test_the_band_is_found_around_the_burned_text(burned: Burned) -> None:
    band = hardsubs.find_band(burned.path)
    assert band is not None
    font_px, centre_y = next(v for v in CASES.values() if v[0] == burned.font_px)
    text_top = centre_y * HEIGHT - font_px / 2
    text_bottom = centre_y * HEIGHT + font_px / 2
    assert band.top <= text_top and band.bottom >= text_bottom, (band, text_top, text_bottom)
    assert band.bottom - band.top <= 3 * font_px


def test_the_text_runs_change_within_a_frame_of_each_cue(burned: Burned) -> None:
    band = hardsubs.find_band(burned.path)
    assert band is not None
    showing = [(run.first, run.end) for run in hardsubs.text_runs(burned.path, band) if run.showing]
    for first, end, _text in burned.cues:
        nearest = min(showing, key=lambda run: abs(run[0] - first) + abs(run[1] - end))
        assert abs(nearest[0] - first) <= 1 and abs(nearest[1] - end) <= 1, (nearest, first, end)


def test_a_static_sign_and_a_corner_logo_are_no_band(tmp_path: Path) -> None:
    fps = media.probe(real(FOOTAGE)).fps
    frames = [
        draw(draw(frame.rgb, "幸福小区", 40, 0.82), "剧", 30, 0.05) for frame in media.video_frames(FOOTAGE, HEIGHT)
    ]
    clip = media.write_video(frames, tmp_path / "sign.mp4", fps)
    assert hardsubs.find_band(clip) is None
    plain = media.write_video([frame.rgb for frame in media.video_frames(FOOTAGE, HEIGHT)], tmp_path / "plain.mp4", fps)
    assert hardsubs.find_band(plain) is None


@pytest.mark.slow
def test_the_cues_read_back_with_little_character_error(burned: Burned) -> None:
    import jiwer

    from dubkit.backends import registry

    reader = registry.create("ocr", "rapidocr", {})
    band = hardsubs.find_band(burned.path)
    assert band is not None
    cues = hardsubs.read_cues(burned.path, band, reader)
    assert len(cues) == len(burned.cues)
    for cue, (first, end, _text) in zip(cues, burned.cues, strict=True):
        assert abs(cue.first - first) <= 1 and abs(cue.end - end) <= 1, (cue, first, end)
        assert cue.start_s == pytest.approx(cue.first / burned.fps, abs=0.5 / burned.fps)
    truth = "".join(text for _, _, text in burned.cues)
    assert jiwer.cer(letters(truth), letters("".join(cue.text for cue in cues))) <= 0.02
