"""Clips with Chinese subtitles burned in, for the hardsubs tests and benchmark: FLORES-200 zho_Hans sentences drawn
onto real footage (Pillow, Debian's WenQuanYi Zen Hei, white with a black outline), encoded through `dubkit.media`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from dubkit import media
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


def burn_clip(
    out: Path,
    font_px: int,
    centre_y: float,
    texts: list[str] | None = None,
    gap: int = 8,
    footage: tuple[Path, int] = (FOOTAGE, HEIGHT),
) -> Burned:
    """The *footage* (path, height scaled to) with *texts* burned in one after another (each ~1.6 s, *gap* frames
    apart; no texts: FLORES sentences that fit), encoded through `media.write_video`."""
    fps = media.probe(real(footage[0])).fps
    frames = [frame.rgb for frame in media.video_frames(footage[0], footage[1])]
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


def letters(text: str) -> str:
    """*text* without punctuation: the character error counts the words' characters (the detector often leaves a
    subtitle's small trailing 。 or ， out of its box, which subtitles commonly drop anyway)."""
    import unicodedata

    return "".join(c for c in text if not unicodedata.category(c).startswith("P"))
