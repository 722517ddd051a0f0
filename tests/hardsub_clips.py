"""Clips with Chinese subtitles burned in, for the hardsubs tests and benchmark: FLORES-200 zho_Hans sentences drawn
onto real footage (Pillow, Debian's WenQuanYi Zen Hei, white with a black outline), encoded through `dubkit.media`.

A `Style` varies what dramas vary: the font face, the outline's width, the fill colour, a long cue wrapped onto two
lines, a karaoke sweep (the fill changes colour from left to right through the cue), a band that flickers (text
blanked for a frame or two inside a cue) or fades in and out, and text set vertically in a column (a title card)."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest

from dubkit import media
from tests.media_fixtures import MEDIA, real

FONT = Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")  # Debian fonts-wqy-zenhei (Makefile APT_PACKAGES)
ZEN_HEI, ZEN_HEI_SHARP = 0, 2  # faces inside that collection
FOOTAGE = MEDIA / "video" / "talking_heads" / "portrait_demo1.mp4"
SENTENCES = MEDIA / "text" / "flores200_devtest" / "zho_Hans.devtest"
HEIGHT = 960  # the footage (1080×1920) scaled to 540×960
LINE_SPACING = 1.3  # two lines' centres lie this many font sizes apart
EVERY = 5  # a dub's picture is read back every 5th frame
EDGE_S = 0.1  # frames this close to a cue's start or end are not judged (a cue may come up a frame either way)


@dataclass(frozen=True)
class Style:
    """How the cues are drawn. `outline`: pixels (0: a twelfth of the font size, at least 2); `sweep`: the karaoke
    colour that fills the characters from left to right through each cue ("" for none); `two_lines`: sentences too
    long for one line, wrapped onto two; `column_x`: set vertically, one column centred at this share of the width
    (0: horizontally); `flicker`: frames blanked in the middle of every cue; `fade`: frames of fade in and out."""

    face: int = ZEN_HEI
    outline: int = 0
    fill: str = "white"
    sweep: str = ""
    two_lines: bool = False
    column_x: float = 0.0
    flicker: int = 0
    fade: int = 0


@dataclass(frozen=True)
class Burned:
    """A clip with subtitles burned in: `cues` are (first frame, end frame exclusive, text); `rows`: the top and
    bottom pixel rows the drawn text covers (all cues together)."""

    path: Path
    cues: tuple[tuple[int, int, str], ...]
    font_px: int
    fps: float
    rows: tuple[int, int] = (0, 0)
    style: Style = Style()


def sentences(max_chars: int, count: int, min_chars: int = 6) -> list[str]:
    """FLORES-200 zho_Hans sentences of *min_chars* to *max_chars* characters, all Chinese (no Latin or digits)."""
    found = []
    for line in real(SENTENCES).read_text(encoding="utf-8").splitlines():
        text = line.strip()
        if min_chars <= len(text) <= max_chars and not any(c.isascii() for c in text):
            found.append(text)
    return found[:count]


def draw(rgb: np.ndarray, text: str, font_px: int, centre_y: float, style: Style = Style()) -> np.ndarray:
    """*text* centred at *centre_y* (share of the height), white with a black outline unless *style* says else."""
    return _painted(rgb, text, font_px, centre_y, style, style.fill)


def text_rows(text: str, font_px: int, centre_y: float, style: Style = Style()) -> tuple[int, int]:
    """The top and bottom pixel rows *text* covers when drawn on the footage's picture."""
    from PIL import Image, ImageDraw

    canvas = ImageDraw.Draw(Image.new("RGB", (HEIGHT * 9 // 16, HEIGHT)))
    boxes = [
        canvas.textbbox(where, line, font=_font(font_px, style), anchor="mm", stroke_width=_outline(font_px, style))
        for where, line in _placed(text, font_px, centre_y, style)
    ]
    return int(min(box[1] for box in boxes)), int(-(-max(box[3] for box in boxes) // 1))


def burn_clip(
    out: Path,
    font_px: int,
    centre_y: float,
    texts: list[str] | None = None,
    gap: int = 8,
    footage: tuple[Path, int] = (FOOTAGE, HEIGHT),
    style: Style = Style(),
    whole: bool = False,
) -> Burned:
    """The *footage* (path, height scaled to) with *texts* burned in one after another (each ~1.6 s, *gap* frames
    apart; no texts: FLORES sentences that fit), encoded through `media.write_video`. *whole*: the first cue starts
    on the first frame and the last ends on the last (cut short to fit), as in a dialogue-dense episode."""
    fps = media.probe(real(footage[0])).fps
    frames = [frame.rgb for frame in media.video_frames(footage[0], footage[1])]
    texts = texts or _fitting(frames[0].shape[1], font_px, len(frames) // (40 + gap) + whole, style)
    cues, first = [], 0 if whole else gap
    for index, text in enumerate(texts):
        end = first + 36 + 4 * (index % 3)  # cue lengths vary
        if whole and (len(frames) - end - gap < 36 or index == len(texts) - 1):
            end = len(frames)  # the last cue runs to the last frame
        if end > len(frames):
            break
        cues.append((first, end, text))
        if end == len(frames):
            break
        first = end + gap
    burned = [
        next(
            (_cue_frame(rgb, text, font_px, centre_y, style, (i - a, b - a)) for a, b, text in cues if a <= i < b), rgb
        )
        for i, rgb in enumerate(frames)
    ]
    media.write_video(burned, out, fps)
    spans = [text_rows(text, font_px, centre_y, style) for _, _, text in cues]
    rows = (min(top for top, _ in spans), max(bottom for _, bottom in spans)) if spans else (0, 0)
    return Burned(out, tuple(cues), font_px, fps, rows, style)


def with_sound(clip: Burned, out: Path, footage: Path = FOOTAGE) -> Burned:
    """*clip* with the *footage*'s own sound track (the footage's speech, 48 kHz stereo), as an episode to dub: the
    picture's packets copied untouched."""
    wav = media.extract_audio(real(footage), out.with_suffix(".wav"), rate=48000, channels=2)
    media.mux(clip.path, wav, out, "und")
    wav.unlink()
    return replace(clip, path=out)


def letters(text: str) -> str:
    """*text* without punctuation: the character error counts the words' characters (the detector often leaves a
    subtitle's small trailing 。 or ， out of its box, which subtitles commonly drop anyway)."""
    import unicodedata

    return "".join(c for c in text if not unicodedata.category(c).startswith("P"))


def latin_letters(text: str) -> str:
    """*text* lowercased, its accents dropped, letters and digits only: what PP-OCR's reading of Latin subtitles is
    compared on (it drops accents and often the spaces between words)."""
    import unicodedata

    bare = "".join(c for c in unicodedata.normalize("NFKD", text.lower()) if not unicodedata.combining(c))
    return "".join(c for c in bare if c.isalnum())


def chinese(text: str) -> str:
    """The CJK ideographs in *text*."""
    return "".join(c for c in text if "\u3400" <= c <= "\u9fff" or "\uf900" <= c <= "\ufaff")


def demo_builder():  # noqa: ANN201 - the samples/make_sample.py module
    """samples/make_sample.py as a module (its cues, where it draws them, when it shows them); skips without the
    Mandarin reading it is built from (the f5-tts wheel)."""
    import importlib.util

    if importlib.util.find_spec("f5_tts") is None:
        pytest.skip("no Mandarin reading for the demo sample: pip install --no-deps f5-tts==1.1.22 (make setup)")
    path = Path(__file__).resolve().parents[1] / "samples" / "make_sample.py"
    spec = importlib.util.spec_from_file_location("make_sample", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def band_readings(
    video: Path, rows: tuple[int, int], reader: object, indices: set[int], plain
) -> dict[int, tuple[float, str]]:
    """Frame index → (time s, text) for the frames *indices* of *video*: the text OCR reads in *rows* that the same
    rows of `plain(index)` (that frame's picture without subtitles) do not show — lines that mostly overlap none of
    its lines (a sign or a name badge in the footage), joined by spaces."""
    own: dict[int, list[tuple[int, int, int, int]]] = {}  # per plain picture (by id): the boxes of its own text
    found = {}
    for frame in media.video_frames(video, only=indices):
        original = plain(frame.index)
        if id(original) not in own:
            read = reader.read(original[rows[0] : rows[1]])  # type: ignore[attr-defined]
            own[id(original)] = [line.box for line in read]
        lines = reader.read(frame.rgb[rows[0] : rows[1]])  # type: ignore[attr-defined]
        kept = [line.text for line in lines if not any(_mostly_inside(line.box, box) for box in own[id(original)])]
        found[frame.index] = (frame.time_s, " ".join(kept))
    return found


def srt_cues(path: Path) -> list[tuple[float, float, str]]:
    """(start s, end s, text) of each cue of an SRT."""
    import pysubs2

    return [(event.start / 1000, event.end / 1000, event.plaintext) for event in pysubs2.load(str(path))]


def sampled(spans: list[tuple[float, float]], fps: float) -> set[int]:
    """Every `EVERY`th frame index inside *spans* (s), away from their edges by `EDGE_S`."""
    found: set[int] = set()
    for start, end in spans:
        first, last = math.ceil((start + EDGE_S) * fps), math.floor((end - EDGE_S) * fps)
        found.update(range(first, last + 1, EVERY))
    return found


def shown(spans: list[tuple[float, float, str]], time_s: float) -> str | None:
    """The text of the cue shown at *time_s*, "" for a time near a cue's edge, None where no cue is shown."""
    for start, end, text in spans:
        if start + EDGE_S <= time_s <= end - EDGE_S:
            return text
        if start - EDGE_S < time_s < end + EDGE_S:
            return ""
    return None


def _mostly_inside(box: tuple[int, int, int, int], other: tuple[int, int, int, int]) -> bool:
    """Whether half of the smaller of the two boxes (left, top, right, bottom) lies inside the other."""
    width = min(box[2], other[2]) - max(box[0], other[0])
    height = min(box[3], other[3]) - max(box[1], other[1])
    smaller = min((b[2] - b[0]) * (b[3] - b[1]) for b in (box, other))
    return width > 0 and height > 0 and width * height >= 0.5 * max(smaller, 1)


def _fitting(width: int, font_px: int, count: int, style: Style) -> list[str]:
    """FLORES sentences for *count* cues: one line's worth, two lines' (longer than one) with `two_lines`, or a
    column's (the picture's height) when set vertically."""
    if style.column_x:
        return sentences(max_chars=int(HEIGHT * 0.5 // font_px), count=count, min_chars=4)
    per_line = int(width * 0.9 // font_px)
    if style.two_lines:
        return sentences(max_chars=2 * per_line, count=count, min_chars=per_line + 1)
    return sentences(max_chars=per_line, count=count)


def _font(font_px: int, style: Style):  # noqa: ANN202 - PIL.ImageFont.FreeTypeFont
    from PIL import ImageFont

    if not FONT.exists():
        pytest.skip(f"CJK font absent: {FONT} (apt-get install fonts-wqy-zenhei)")
    return ImageFont.truetype(str(FONT), font_px, index=style.face)


def _outline(font_px: int, style: Style) -> int:
    return style.outline or max(2, font_px // 12)


def _placed(
    text: str, font_px: int, centre_y: float, style: Style, size: tuple[int, int] = (HEIGHT * 9 // 16, HEIGHT)
) -> list[tuple[tuple[float, float], str]]:
    """(centre, text) of each piece drawn on a picture of *size* (width, height): one line; two balanced lines
    around *centre_y*; or one character per cell down a column centred at *centre_y*."""
    width, height = size
    if style.column_x:
        top = height * centre_y - font_px * (len(text) - 1) / 2
        return [((width * style.column_x, top + font_px * i), char) for i, char in enumerate(text)]
    if style.two_lines and len(text) * font_px > width * 0.9:
        half = -(-len(text) // 2)
        offset = font_px * LINE_SPACING / 2
        return [
            ((width / 2, height * centre_y - offset), text[:half]),
            ((width / 2, height * centre_y + offset), text[half:]),
        ]
    return [((width / 2, height * centre_y), text)]


def _painted(rgb: np.ndarray, text: str, font_px: int, centre_y: float, style: Style, fill: str) -> np.ndarray:
    from PIL import Image, ImageDraw

    image = Image.fromarray(rgb)
    canvas = ImageDraw.Draw(image)
    for where, piece in _placed(text, font_px, centre_y, style, image.size):
        canvas.text(
            where,
            piece,
            font=_font(font_px, style),
            fill=fill,
            anchor="mm",
            stroke_width=_outline(font_px, style),
            stroke_fill="black",
        )
    return np.asarray(image)


def _cue_frame(
    rgb: np.ndarray, text: str, font_px: int, centre_y: float, style: Style, at: tuple[int, int]
) -> np.ndarray:
    """Frame *at[0]* of a cue *at[1]* frames long: the text drawn as *style* says (blanked, faded or swept)."""
    offset, length = at
    middle = length // 2
    if style.flicker and middle <= offset < middle + style.flicker:
        return rgb
    drawn = _painted(rgb, text, font_px, centre_y, style, style.fill)
    if style.sweep:
        swept = _painted(rgb, text, font_px, centre_y, style, style.sweep)
        left, right = _columns(drawn, rgb)
        edge = left + (right - left) * (offset + 1) / length
        drawn = np.where((np.arange(rgb.shape[1]) < edge)[None, :, None], swept, drawn)
    if style.fade:
        alpha = min(1.0, (offset + 1) / (style.fade + 1), (length - offset) / (style.fade + 1))
        drawn = (rgb * (1 - alpha) + drawn * alpha).round().astype(np.uint8)
    return drawn


def _columns(drawn: np.ndarray, rgb: np.ndarray) -> tuple[int, int]:
    """The leftmost and rightmost pixel columns where drawing changed the picture."""
    changed = np.flatnonzero((drawn != rgb).any(axis=(0, 2)))
    return (int(changed[0]), int(changed[-1]) + 1) if changed.size else (0, 0)
