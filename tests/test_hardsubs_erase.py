"""Erasing burned-in subtitles: Chinese text drawn with Pillow onto a textured still background and onto a moving
gradient is removed from the band (no fill-white or outline-black pixel is left, the background comes back), every
pixel outside the band and every frame outside a cue is left as it was, a span may start inside a cue or skip one,
a cue seen from the video's first frame with nothing after it is inpainted, and memory holds one cue. The slow test
erases FLORES sentences burned onto real footage and reads the result back with PP-OCRv4."""

from __future__ import annotations

from collections.abc import Iterator
from unittest import mock

import numpy as np
import pytest

from dubkit import hardsubs, media
from dubkit.errors import MediaError
from dubkit.hardsubs import erase as erasing
from dubkit.hardsubs.erase import erase
from tests.hardsub_clips import FOOTAGE, HEIGHT, burn_clip, draw

WIDTH, TALL = 320, 240
BAND = hardsubs.Band(top=180, bottom=228, width=WIDTH, height=TALL, presence=1.0, changes=3)
TEXT = "我们明天见吧"
CUE = hardsubs.Cue(first=10, end=25, start_s=0.4, end_s=1.0, text=TEXT, score=0.99)
FRAMES = 32


def textured(shift: int = 0) -> np.ndarray:
    """A smooth colour texture (values 40–160: never the text's white fill or black outline), moved *shift* px."""
    y, x = np.mgrid[0:TALL, 0:WIDTH].astype(np.float32)
    x = x + shift
    base = 100 + 30 * np.sin(x / 9.0) * np.cos(y / 13.0) + 25 * np.sin((x + 2 * y) / 31.0)
    rgb = np.stack([base, base * 0.8 + 20, 150 - base * 0.5], axis=2)
    return np.clip(rgb, 40, 160).astype(np.uint8)


def gradient(shift: int) -> np.ndarray:
    """A diagonal gradient with soft stripes, moved *shift* px to the left (a pan)."""
    y, x = np.mgrid[0:TALL, 0:WIDTH].astype(np.float32)
    base = 50 + 0.25 * (x + shift) + 0.1 * y + 12 * np.sin((x + shift) / 7.0)
    return np.clip(np.stack([base, base, base * 0.9], axis=2), 40, 160).astype(np.uint8)


def clip(background: str = "still", cues: tuple[hardsubs.Cue, ...] = (CUE,)) -> tuple[list, list]:
    """(frames with the cues' text burned in, the clean pictures behind them)."""
    clean = [textured() if background == "still" else gradient(2 * index) for index in range(FRAMES)]
    centre = (BAND.top + BAND.bottom) / 2 / TALL
    burned = [
        next((draw(rgb, cue.text, 26, centre) for cue in cues if cue.first <= index < cue.end), rgb)
        for index, rgb in enumerate(clean)
    ]
    return [media.Frame(index, index / 25, rgb) for index, rgb in enumerate(burned)], clean


def glyph_pixels(picture: np.ndarray) -> int:
    """Pixels in the band as bright as the text's fill or as dark as its outline (the backgrounds have none)."""
    luma = picture[BAND.top : BAND.bottom].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    return int(((luma > 200) | (luma < 25)).sum())


def band_error(picture: np.ndarray, clean: np.ndarray) -> float:
    """Mean absolute difference inside the band (0–255)."""
    return float(np.abs(picture[BAND.top : BAND.bottom].astype(np.int16) - clean[BAND.top : BAND.bottom]).mean())


def outside_band(picture: np.ndarray) -> np.ndarray:
    return np.delete(picture, np.s_[BAND.top : BAND.bottom], axis=0)


@pytest.mark.parametrize("background", ["still", "moving"])
def test_the_text_is_removed_and_nothing_else_is_touched(background: str) -> None:
    frames, clean = clip(background)
    assert glyph_pixels(frames[CUE.first].rgb) > 500  # the text is there to begin with
    pictures = list(erase(frames, BAND, [CUE]))
    assert len(pictures) == len(frames)
    for frame, picture, behind in zip(frames, pictures, clean, strict=True):
        assert picture.shape == frame.rgb.shape and picture.dtype == np.uint8
        assert np.array_equal(outside_band(picture), outside_band(frame.rgb))
        if CUE.first <= frame.index < CUE.end:
            assert glyph_pixels(picture) == 0, frame.index
            assert band_error(picture, behind) < (1.0 if background == "still" else 2.0), frame.index
        else:
            assert np.array_equal(picture, frame.rgb)


def test_the_mask_covers_the_glyphs_and_little_else() -> None:
    frames, clean = clip("moving")
    crops = np.stack([frame.rgb[BAND.top : BAND.bottom] for frame in frames[CUE.first : CUE.end]])
    mask = erasing.glyph_mask(crops)
    drawn = np.abs(crops[0].astype(np.int16) - clean[CUE.first][BAND.top : BAND.bottom]).max(axis=2) > 40
    assert mask[drawn].mean() > 0.97
    assert mask.sum() < 2.5 * drawn.sum()


def test_a_span_may_start_inside_a_cue_and_skip_another() -> None:
    later = hardsubs.Cue(first=28, end=31, start_s=1.12, end_s=1.24, text="再见", score=0.99)
    frames, clean = clip("still", (CUE, later))
    span = frames[18:26] + frames[29:]  # starts inside CUE, jumps into the middle of the later one
    pictures = list(erase(span, BAND, [later, CUE]))
    assert len(pictures) == len(span)
    for frame, picture in zip(span, pictures, strict=True):
        assert np.array_equal(outside_band(picture), outside_band(frame.rgb))
        if frame.index < CUE.end or later.first <= frame.index < later.end:
            assert glyph_pixels(picture) == 0, frame.index
        else:
            assert np.array_equal(picture, frame.rgb)
    assert band_error(pictures[0], clean[18]) < 1.0  # filled from the clean frames after the cue


def test_a_cue_with_no_clean_frame_around_it_is_inpainted() -> None:
    import cv2

    from_start = hardsubs.Cue(first=0, end=FRAMES, start_s=0.0, end_s=FRAMES / 25, text=TEXT, score=0.99)
    frames, clean = clip("still", (from_start,))
    with mock.patch.object(cv2, "inpaint", wraps=cv2.inpaint) as inpaint:
        pictures = list(erase(frames[:6], BAND, [from_start]))
    assert inpaint.call_count == 6
    for frame, picture in zip(frames, pictures, strict=False):
        assert glyph_pixels(picture) == 0
        assert np.array_equal(outside_band(picture), outside_band(frame.rgb))
        assert band_error(picture, clean[frame.index]) < band_error(frame.rgb, clean[frame.index]) / 3


def test_frames_of_another_shot_are_not_copied() -> None:
    frames, clean = clip("still")
    cut = [media.Frame(f.index, f.time_s, gradient(0)) if f.index < CUE.first else f for f in frames[: CUE.end]]
    pictures = list(erase(cut, BAND, [CUE]))  # the span ends with the cue: only the other shot is around it
    for frame, picture in zip(cut[CUE.first :], pictures[CUE.first :], strict=True):
        assert glyph_pixels(picture) == 0
        assert band_error(picture, clean[frame.index]) < 4.0  # copied from the other shot: 6


def test_one_cue_is_held_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(erasing, "MAX_HELD", 6)
    frames, _ = clip("still")
    read: list[int] = []

    def counted() -> Iterator[media.Frame]:
        for frame in frames:
            read.append(frame.index)
            yield frame

    pictures = erase(counted(), BAND, [CUE])
    for index in range(CUE.first + 1):
        next(pictures)
        assert len(read) <= index + erasing.MAX_HELD + erasing.CONTEXT
    assert sum(1 for _ in pictures) == FRAMES - CUE.first - 1


def test_a_picture_of_another_size_is_a_media_error() -> None:
    frame = media.Frame(0, 0.0, np.zeros((TALL // 2, WIDTH // 2, 3), np.uint8))
    with pytest.raises(MediaError, match="band was found in 320x240"):
        list(erase([frame], BAND, [CUE]))


@pytest.mark.slow
def test_real_footage_erased_reads_no_text_and_keeps_the_background(tmp_path) -> None:
    from dubkit.backends import registry

    burned = burn_clip(tmp_path / "burned.mp4", 34, 0.86)
    band = hardsubs.find_band(burned.path)
    assert band is not None
    reader = registry.create("ocr", "rapidocr", {})
    cues = hardsubs.read_cues(burned.path, band, reader)
    inside = {index for first, end, _ in burned.cues for index in range(first, end, 5)}
    errors, read_text = [], 0
    pictures = erase(media.video_frames(burned.path), band, cues)
    for frame, picture, original in zip(
        media.video_frames(burned.path), pictures, media.video_frames(FOOTAGE, HEIGHT), strict=True
    ):
        assert np.array_equal(
            np.delete(picture, np.s_[band.top : band.bottom], 0), np.delete(frame.rgb, np.s_[band.top : band.bottom], 0)
        )
        if frame.index in inside:
            read_text += bool(reader.read(picture[band.top : band.bottom]))
            difference = picture[band.top : band.bottom].astype(np.float32) - original.rgb[band.top : band.bottom]
            errors.append(float(np.mean(difference**2)))
    assert read_text <= 0.01 * len(inside)
    assert 10 * np.log10(255**2 / np.mean(errors)) >= 32
