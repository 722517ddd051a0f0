"""Burned-in subtitles read back: FLORES-200 Chinese sentences drawn onto real footage (Pillow, a Debian CJK font,
white with a black outline) at two sizes and two heights; the band is found, the cues' in and out points land
within a frame, and PP-OCRv4 reads them with at most 2 % character error. A static sign is no band. The hard
cases: a large font with only two cues, two-line cues, subtitles at the top, another face, outline and fill, a
karaoke sweep, a flickering or fading band, and vertical title text (no band). Subtitles on screen nearly all the
time (cue after cue two frames apart, from the first frame to the last) are a band too."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dubkit import hardsubs, media
from dubkit.hardsubs.band import edge_map
from tests.hardsub_clips import FOOTAGE, HEIGHT, ZEN_HEI_SHARP, Burned, Style, burn_clip, draw, letters
from tests.media_fixtures import real

CASES = {"large-bottom": (34, 0.86), "small-lower": (26, 0.74)}
HARD = {
    "44px-two-cues": (44, 0.88, Style()),
    "two-lines": (30, 0.84, Style(two_lines=True)),
    "top": (30, 0.12, Style()),
    "sharp-yellow-outline5": (34, 0.84, Style(face=ZEN_HEI_SHARP, outline=5, fill="#ffe14d")),
    "karaoke": (30, 0.84, Style(sweep="#3cb4ff")),
    "flicker": (30, 0.84, Style(flicker=2)),
    "fade": (30, 0.84, Style(fade=3)),
}

DENSE = {"gap2": {"gap": 2}, "gap2-whole": {"gap": 2, "whole": True}}


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


@pytest.fixture(scope="module", params=sorted(HARD))
def hard(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Burned:
    font_px, centre_y, style = HARD[request.param]
    return burn_clip(tmp_path_factory.mktemp("hard") / f"{request.param}.mp4", font_px, centre_y, style=style)


@pytest.mark.slow
def test_the_hard_cases_are_found_and_read(hard: Burned) -> None:
    import jiwer

    from dubkit.backends import registry

    band = hardsubs.find_band(hard.path)
    assert band is not None
    assert band.top <= hard.rows[0] and band.bottom >= hard.rows[1], (band, hard.rows)
    assert band.bottom - band.top <= 2.5 * (hard.rows[1] - hard.rows[0]), (band, hard.rows)
    cues = hardsubs.read_cues(hard.path, band, registry.create("ocr", "rapidocr", {}))
    assert len(cues) == len(hard.cues)
    fade = hard.style.fade
    for cue, (first, end, _text) in zip(cues, hard.cues, strict=True):
        assert abs(cue.first - first) <= 1 + fade // 2 and abs(cue.end - end) <= 1 + fade // 2, (cue, first, end)
        assert cue.lines == (2 if hard.style.two_lines else 1)
        assert 0 <= cue.box[1] < cue.box[3] <= band.bottom - band.top and cue.box[0] < cue.box[2] <= band.width
    truth = "".join(text for _, _, text in hard.cues)
    assert jiwer.cer(letters(truth), letters("".join(cue.text for cue in cues))) <= 0.02


@pytest.mark.parametrize("column_x", [0.9, 0.5])
def test_vertical_title_text_is_no_band(tmp_path: Path, column_x: float) -> None:
    clip = burn_clip(tmp_path / "column.mp4", 30, 0.45, style=Style(column_x=column_x))
    assert len(clip.cues) >= 3  # the column changes often enough: only its shape may rule it out
    assert hardsubs.find_band(clip.path) is None


def test_captions_at_the_top_lose_to_subtitles_that_change_more(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fps = media.probe(real(FOOTAGE)).fps
    top = burn_clip(tmp_path / "top.mp4", 28, 0.1, texts=["第一集", "重逢"], gap=60)
    frames = [frame.rgb for frame in media.video_frames(top.path)]
    bottom = burn_clip(tmp_path / "bottom.mp4", 30, 0.85)
    both = [
        next((draw(rgb, text, 30, 0.85) for a, b, text in bottom.cues if a <= i < b), rgb)
        for i, rgb in enumerate(frames)
    ]
    clip = media.write_video(both, tmp_path / "both.mp4", fps)
    with caplog.at_level("INFO", logger="dubkit.hardsubs.band"):
        band = hardsubs.find_band(clip)
    assert band is not None and band.top <= bottom.rows[0] and band.bottom >= bottom.rows[1], (band, bottom.rows)
    assert any("second text band" in message for message in caplog.messages), caplog.messages


def test_a_white_fill_next_to_its_black_outline_is_an_edge() -> None:
    white, grey, black = (255, 255, 255), (128, 128, 128), (0, 0, 0)
    rgb = np.array([[white, black, grey, white, white]], dtype=np.uint8)
    assert edge_map(rgb).tolist() == [[False, True, True, True, False]]


@pytest.fixture(scope="module", params=sorted(DENSE))
def dense(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Burned:
    return burn_clip(tmp_path_factory.mktemp("dense") / f"{request.param}.mp4", 30, 0.84, **DENSE[request.param])


def test_subtitles_shown_nearly_all_the_time_are_a_band(dense: Burned) -> None:
    band = hardsubs.find_band(dense.path)
    assert band is not None
    assert band.top <= dense.rows[0] and band.bottom >= dense.rows[1], (band, dense.rows)
    if dense.cues[0][0] == 0:
        assert dense.cues[-1][1] == sum(1 for _ in media.video_frames(dense.path))
        assert band.presence >= 0.9  # text in nearly every sample: no sample shows the band's background


@pytest.mark.slow
def test_subtitles_shown_nearly_all_the_time_read_back_cue_by_cue(dense: Burned) -> None:
    import jiwer

    from dubkit.backends import registry

    band = hardsubs.find_band(dense.path)
    assert band is not None
    cues = hardsubs.read_cues(dense.path, band, registry.create("ocr", "rapidocr", {}))
    assert len(cues) == len(dense.cues), [(cue.first, cue.end, cue.text) for cue in cues]
    for cue, (first, end, _text) in zip(cues, dense.cues, strict=True):
        assert abs(cue.first - first) <= 1 and abs(cue.end - end) <= 1, (cue, first, end)
    truth = "".join(text for _, _, text in dense.cues)
    # 3 %: PP-OCRv4 adds a character to 然后，拉卡·辛格 in every crop of this band tried (one in ~80)
    assert jiwer.cer(letters(truth), letters("".join(cue.text for cue in cues))) <= 0.03


def test_gray_samples_are_the_rgb_samples_luma() -> None:
    from dubkit.hardsubs.band import LUMA

    gray = list(media.sampled_frames(real(FOOTAGE), 1.0, 320, gray=True))
    rgb = list(media.sampled_frames(real(FOOTAGE), 1.0, 320))
    assert [frame.index for frame in gray] == [frame.index for frame in rgb] and len(gray) >= 9
    for luma, colour in zip(gray, rgb, strict=True):
        assert luma.rgb.shape == colour.rgb.shape[:2]
        assert np.abs(luma.rgb - colour.rgb @ LUMA).mean() < 2
