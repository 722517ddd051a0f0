"""Burned-in subtitles read back: FLORES-200 Chinese sentences drawn onto real footage (Pillow, a Debian CJK font,
white with a black outline) at two sizes and two heights; the band is found, the cues' in and out points land
within a frame, and PP-OCRv4 reads them with at most 2 % character error. A static sign is no band."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from dubkit import hardsubs, media
from tests.media_fixtures import MEDIA, real

FONT = Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")  # Debian fonts-wqy-zenhei (Makefile APT_PACKAGES)
FOOTAGE = MEDIA / "video" / "talking_heads" / "portrait_demo1.mp4"
SENTENCES = MEDIA / "text" / "flores200_devtest" / "zho_Hans.devtest"
HEIGHT = 960  # the footage (1080×1920) scaled to 540×960


@dataclass(frozen=True)
class Burned:
    """A clip with subtitles burned in: `cues` are (first frame, end frame exclusive, text)."""

    path: Path
    cues: tuple[tuple[int, int, str], ...]
    font_px: int
    fps: float


def sentences(max_chars: int, count: int) -> list[str]:
    """FLORES-200 zho_Hans sentences short enough for one subtitle line, all Chinese (no Latin or digits)."""
    found = []
    for line in real(SENTENCES).read_text(encoding="utf-8").splitlines():
        text = line.strip()
        if 6 <= len(text) <= max_chars and not any(c.isascii() for c in text):
            found.append(text)
    return found[:count]


def draw(rgb: np.ndarray, text: str, font_px: int, centre_y: float) -> np.ndarray:
    """*text* centred at *centre_y* (share of the height), white with a black outline."""
    from PIL import Image, ImageDraw, ImageFont

    if not FONT.exists():
        pytest.skip(f"CJK font absent: {FONT} (apt-get install fonts-wqy-zenhei)")
    image = Image.fromarray(rgb)
    font = ImageFont.truetype(str(FONT), font_px)
    where = (image.width / 2, image.height * centre_y)
    stroke = max(2, font_px // 12)
    ImageDraw.Draw(image).text(
        where, text, font=font, fill="white", anchor="mm", stroke_width=stroke, stroke_fill="black"
    )
    return np.asarray(image)


def burn_clip(out: Path, font_px: int, centre_y: float, texts: list[str] | None = None, gap: int = 8) -> Burned:
    """The footage with *texts* burned in one after another (each ~1.6 s, *gap* frames apart; no texts: FLORES
    sentences that fit), encoded through `media.write_video`."""
    fps = media.probe(real(FOOTAGE)).fps
    frames = [frame.rgb for frame in media.video_frames(FOOTAGE, HEIGHT)]
    width = frames[0].shape[1]
    texts = texts or sentences(max_chars=int(width * 0.9 // font_px), count=len(frames) // (40 + gap))
    cues, first = [], gap
    for index, text in enumerate(texts):
        end = first + 36 + 4 * (index % 3)  # cue lengths vary
        if end > len(frames):
            break
        cues.append((first, end, text))
        first = end + gap
    burned = [
        next((draw(rgb, text, font_px, centre_y) for a, b, text in cues if a <= i < b), rgb)
        for i, rgb in enumerate(frames)
    ]
    media.write_video(burned, out, fps)
    return Burned(out, tuple(cues), font_px, fps)


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


def letters(text: str) -> str:
    """*text* without punctuation: the character error counts the words' characters (the detector often leaves a
    subtitle's small trailing 。 or ， out of its box, which subtitles commonly drop anyway)."""
    import unicodedata

    return "".join(c for c in text if not unicodedata.category(c).startswith("P"))
