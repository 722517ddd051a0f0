"""Translated subtitles set into the picture where the burned-in originals were.

`style_of` measures an original subtitle in one picture: its glyph height (from the rows where the bright fill
meets its dark outline), outline thickness (how many rings around the fill are dark), colours and position.
`render_overlays` sets each translated cue once with libass (through `dubkit.media.subtitle_burn`) on a transparent
canvas the size of the band, in a font for the target language at the measured size, broken into at most two
balanced lines inside the 9:16 title-safe width (smaller when the text would not fit otherwise). `typeset` lays
the overlay of the cue that covers each frame over the band of that frame's picture, which comes from the eraser
as (frame index, RGB picture); every other pixel and every frame no cue covers is passed on unchanged.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dubkit import languages
from dubkit.errors import BackendUnavailable, StageFailed
from dubkit.hardsubs.band import EDGE_STEP, Band
from dubkit.subtitles import linebreak

log = logging.getLogger(__name__)

VERSION = 1  # bump when a change here changes the pictures typeset draws (see dubkit.cache)
SAFE_WIDTH = 0.9  # title-safe: text stays inside the middle 90 % of the picture's width and height
MAX_LINES = 2
INK_EM = 0.97  # a line of Chinese spans about one em of bright fill, top to bottom (WenQuanYi Zen Hei: 0.96–1.01)
SHRINK = 0.92  # a setting that does not fit is tried again this much smaller
MIN_FONT_PX = 8
RGB = tuple[int, int, int]


@dataclass(frozen=True)
class Font:
    """A font installed by a Debian package, as libass finds it (by family name, or in `file`'s folder).

    `line_em`: the font's line height (OS/2 winAscent + winDescent) in ems, which is what an ASS font size
    measures; `advance_em`: a first guess at the width of one character of running text, in ems."""

    family: str
    file: Path
    package: str
    line_em: float
    advance_em: float


FONTS = {
    "cjk": Font(
        "WenQuanYi Zen Hei", Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"), "fonts-wqy-zenhei", 1.26, 1.0
    ),
    "latin": Font(
        "DejaVu Sans", Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"), "fonts-dejavu-core", 1.164, 0.5
    ),
}
CJK_LANGUAGES = frozenset({"zh", "cmn", "yue", "ja", "ko"})


@dataclass(frozen=True)
class Style:
    """How subtitles are set: `font_px` is the em size in pixels (what Pillow and CSS call the font size),
    `outline_px` the outline's thickness, `centre_y` the text's vertical centre as a share of the picture's height,
    colours as RGB; `family` names one of FONTS' families to use instead of the target language's."""

    font_px: int
    outline_px: float
    centre_y: float
    colour: RGB = (255, 255, 255)
    outline_colour: RGB = (0, 0, 0)
    family: str = ""


@dataclass(frozen=True)
class Overlay:
    """One cue's subtitle for frames `first` to `end` (exclusive): `rgba` covers the band's rows, full width
    (straight alpha); `lines` and `font_px` say how it was set."""

    first: int
    end: int
    rgba: np.ndarray
    lines: tuple[str, ...]
    font_px: int


def font_for(language: str, family: str = "") -> Font:
    """The font for text in *language* (CJK for Chinese, Japanese, Korean; a Latin sans for the rest), or the one
    named *family*; BackendUnavailable naming the Debian package when it is not installed."""
    if family:
        font = next((f for f in FONTS.values() if f.family == family), None)
        if font is None:
            known = ", ".join(f.family for f in FONTS.values())
            raise StageFailed(f"no font {family!r} to set subtitles in (known: {known})")
    else:
        font = FONTS["cjk" if languages.primary(language) in CJK_LANGUAGES else "latin"]
    if not font.file.is_file():
        raise BackendUnavailable(
            "typeset", f"font {font.family} not found at {font.file}", f"apt-get install {font.package}"
        )
    return font


DARK = 70  # an outline pixel's luma is at most this (outlines are black or a dark colour)
BRIGHT_BELOW_FILL = 60  # a fill pixel's luma is at most this far below the brightest fill in the band
MIN_CONTRAST = 40  # an outline is at least this much darker (luma) than the background around it to be measured
USUAL_OUTLINE_EM = 0.08  # the outline assumed where it cannot be measured, in ems (a common subtitle stroke)
MIN_EDGES = 0.02  # a band whose busiest row has fewer fill-to-outline edges (share of the width) shows no text
ROW_SHARE = 0.08  # a row holds text when it has this share of the busiest row's edges


def style_of(picture: np.ndarray, band: Band) -> Style:
    """The style of the original subtitle shown in *picture* (a whole frame, or just the band's rows), so that
    the replacement matches it; StageFailed when the band shows no text."""
    crop = _band_rows(picture, band)
    luma = crop.astype(np.int32) @ np.array([77, 150, 29], dtype=np.int32) >> 8
    bright = luma >= max(128, int(np.percentile(luma, 99.5)) - BRIGHT_BELOW_FILL)
    lines = _text_lines(luma, bright)
    if not lines:
        raise StageFailed("no subtitle text in the band to measure its style")
    top, bottom = lines[0][0], lines[-1][1]
    line_px = max(end - start for start, end in lines)
    columns = np.flatnonzero(bright[top:bottom].any(axis=0))
    box = (slice(top, bottom), slice(int(columns[0]), int(columns[-1]) + 1))
    fill = np.zeros_like(bright)
    fill[box] = bright[box]
    outline_px, ring = _outline(fill, luma, max_px=max(2, round(line_px * 0.2)))
    font_px = max(MIN_FONT_PX, round(line_px / INK_EM))
    return Style(
        font_px=font_px,
        outline_px=outline_px if outline_px >= 0 else round(font_px * USUAL_OUTLINE_EM, 1),
        centre_y=(band.top + (top + bottom) / 2) / band.height,
        colour=_median_colour(crop[fill], (255, 255, 255)),
        outline_colour=_median_colour(crop[ring], (0, 0, 0)),
    )


def _band_rows(picture: np.ndarray, band: Band) -> np.ndarray:
    """The band's rows of *picture*, which is a whole frame or already just the band."""
    rows = band.bottom - band.top
    if picture.ndim != 3 or picture.shape[1] != band.width or picture.shape[0] not in (band.height, rows):
        raise StageFailed(
            f"picture of shape {picture.shape} is neither a {band.width}x{band.height} frame nor its {rows}-row band"
        )
    return picture[band.top : band.bottom] if picture.shape[0] == band.height else picture


def _text_lines(luma: np.ndarray, bright: np.ndarray) -> list[tuple[int, int]]:
    """Runs of rows (top, bottom exclusive) where bright fill meets a dark outline or background often: the lines
    of text, each as tall as its glyphs' fill. Runs much shorter than the tallest are noise and left out."""
    left, right = luma[:, :-2], luma[:, 2:]  # two pixels apart: an anti-aliased edge has a grey pixel between
    step = np.abs(right - left) >= EDGE_STEP
    edges = step & (bright[:, 2:] | bright[:, :-2]) & ((right <= DARK) | (left <= DARK))
    counts = edges.sum(axis=1)
    if counts.max(initial=0) < max(8, MIN_EDGES * luma.shape[1]):  # footage has a few; a line of text, dozens
        return []
    rows = np.flatnonzero(counts >= max(2, ROW_SHARE * counts.max()))
    runs: list[tuple[int, int]] = []
    for row in rows.tolist():
        if runs and row - runs[-1][1] <= 1:  # one quiet row (a gap inside a glyph) does not end a line
            runs[-1] = (runs[-1][0], row + 1)
        else:
            runs.append((row, row + 1))
    runs = [_grown(start, end, counts) for start, end in runs]
    tallest = max(end - start for start, end in runs)
    return [(start, end) for start, end in runs if end - start >= tallest / 2]


def _grown(start: int, end: int, counts: np.ndarray, most: int = 2) -> tuple[int, int]:
    """A line's rows grown by up to *most* rows each way while those still hold an edge (a glyph's top and bottom
    rows have few)."""
    for _ in range(most):
        if start > 0 and counts[start - 1] > 0:
            start -= 1
        if end < len(counts) and counts[end] > 0:
            end += 1
    return start, end


def _outline(fill: np.ndarray, luma: np.ndarray, max_px: int) -> tuple[float, np.ndarray]:
    """The outline's thickness around *fill* (−1 when the background is as dark) and the pixels it covers.

    Rings one pixel wide are grown around the fill; the background's luma is that of the outermost two, the
    outline's that of the darkest; a pixel darker than halfway between is outline. The thickness sums each ring's
    share of outline pixels, outwards while at least a quarter of a ring is outline (a partly dark ring is an
    anti-aliased edge)."""
    rings: list[np.ndarray] = []
    grown = fill
    for _ in range(max_px + 2):
        wider = _dilate(grown)
        rings.append(wider & ~grown)
        grown = wider
    means = [float(luma[ring].mean()) if ring.any() else 255.0 for ring in rings]
    background, darkest = float(luma[rings[-1] | rings[-2]].mean()), min(means[:max_px])
    covered = np.zeros_like(fill)
    if background - darkest < MIN_CONTRAST:  # a dark background hides any outline: assume a usual one
        return -1.0, covered
    dark = luma <= (background + darkest) / 2
    thickness = 0.0
    for ring in rings[:max_px]:
        share = float(dark[ring].mean())
        if share < 0.25:
            break
        thickness += share
        covered |= ring & dark
    return round(thickness, 1), covered


def _dilate(mask: np.ndarray) -> np.ndarray:
    """*mask* grown by one pixel in all eight directions."""
    padded = np.pad(mask, 1)
    height, width = mask.shape
    grown = np.zeros_like(mask)
    for dy in (0, 1, 2):
        for dx in (0, 1, 2):
            grown |= padded[dy : dy + height, dx : dx + width]
    return grown


def _median_colour(pixels: np.ndarray, default: RGB) -> RGB:
    red, green, blue = (int(v) for v in np.median(pixels.reshape(-1, 3), axis=0)) if len(pixels) else default
    return (red, green, blue)


BATCH = 48  # cues rendered per ffmpeg run (each one second of the ASS file): bounds the pictures held at once
MAX_PASSES = 4  # a cue whose rendering overflows the safe area is set smaller and rendered again, this often


@dataclass(frozen=True)
class _Setting:
    """A cue's text broken into lines, at a font size in pixels (em)."""

    lines: tuple[str, ...]
    font_px: int


def render_overlays(
    cues: Sequence[tuple[int, int, str]], band: Band, style: Style, language: str, work: Path
) -> list[Overlay]:
    """One overlay per cue (first frame, end frame exclusive, translated text) with text; each text set once by
    libass in the font for *language*, at the style's size or smaller where two lines would not hold it. The ASS
    files are written into *work*."""
    from dubkit.media import subtitle_burn

    font = font_for(language, style.family)
    work.mkdir(parents=True, exist_ok=True)
    wanted = [(first, end, text) for first, end, text in cues if text.strip()]
    for first, end, _ in wanted:
        if not 0 <= first < end:
            raise StageFailed(f"a subtitle cue from frame {first} to {end} is empty or reversed")
    settings = [_set_text(text, font, style, band, style.font_px) for _, _, text in wanted]
    pictures: list[np.ndarray] = [np.zeros(0)] * len(settings)
    todo = list(range(len(settings)))
    for attempt in range(MAX_PASSES):
        for start in range(0, len(todo), BATCH):
            batch = todo[start : start + BATCH]
            ass = work / f"typeset-{attempt}-{start // BATCH}.ass"
            _ass_file([settings[i] for i in batch], font, style, band).save(str(ass), format_="ass")
            rendered = subtitle_burn.render_subtitles(
                ass, band.width, band.bottom - band.top, len(batch), font.file.parent
            )
            for index, picture in zip(batch, rendered, strict=True):
                pictures[index] = picture
        todo = [i for i in todo if not _inside_safe_area(pictures[i], band) and settings[i].font_px > MIN_FONT_PX]
        for i in todo:
            settings[i] = _set_text(
                wanted[i][2], font, style, band, max(MIN_FONT_PX, int(settings[i].font_px * SHRINK))
            )
        if not todo:
            break
    log.info("%d subtitles set in %s at %d px", len(wanted), font.family, style.font_px)
    return [
        Overlay(first, end, picture, setting.lines, setting.font_px)
        for (first, end, _), setting, picture in zip(wanted, settings, pictures, strict=True)
    ]


def _set_text(text: str, font: Font, style: Style, band: Band, font_px: int) -> _Setting:
    """*text* in as few balanced lines as fit the safe width (a guess from the font's advance; the rendering is
    checked), at *font_px* or smaller until it takes at most two lines that fit the band's safe rows."""
    width = SAFE_WIDTH * band.width - 2 * style.outline_px
    top, bottom = _room(band)
    while True:
        max_chars = max(1, int(width / (font_px * font.advance_em)))
        lines = linebreak.set_lines(linebreak.tokenize(text, max_chars), linebreak.Limits(max_chars, MAX_LINES))
        tall = len(lines) * font_px * font.line_em + 2 * style.outline_px
        if (len(lines) <= MAX_LINES and tall <= bottom - top) or font_px <= MIN_FONT_PX:
            return _Setting(tuple(lines), font_px)
        font_px = max(MIN_FONT_PX, int(font_px * SHRINK))


def _room(band: Band) -> tuple[float, float]:
    """The rows of the band's canvas inside the title-safe area (the middle 90 % of the picture's height)."""
    margin = (1 - SAFE_WIDTH) / 2 * band.height
    return max(0.0, margin - band.top), min(band.bottom, band.height - margin) - band.top


def _ass_file(settings: Sequence[_Setting], font: Font, style: Style, band: Band):  # noqa: ANN202 - pysubs2.SSAFile
    """An ASS document on the band's canvas showing setting *i* from *i* to *i* + 1 seconds."""
    import pysubs2

    subs = pysubs2.SSAFile()
    canvas = {"PlayResX": str(band.width), "PlayResY": str(band.bottom - band.top)}
    subs.info.update(
        canvas | {"WrapStyle": "2", "ScaledBorderAndShadow": "yes"}
    )  # lines are broken here, not by libass
    subs.styles["Default"] = pysubs2.SSAStyle(
        fontname=font.family,
        fontsize=style.font_px * font.line_em,
        primarycolor=pysubs2.Color(*style.colour),
        outlinecolor=pysubs2.Color(*style.outline_colour),
        outline=style.outline_px,
        shadow=0,
        alignment=pysubs2.Alignment.MIDDLE_CENTER,
        marginl=0,
        marginr=0,
        marginv=0,
    )
    top, bottom = _room(band)
    for index, setting in enumerate(settings):
        half = (len(setting.lines) * setting.font_px * font.line_em + 2 * style.outline_px) / 2
        wanted = style.centre_y * band.height - band.top
        y = (top + bottom) / 2 if bottom - top < 2 * half else min(max(wanted, top + half), bottom - half)
        size = round(setting.font_px * font.line_em, 2)
        tags = f"{{\\pos({band.width / 2:.1f},{y:.1f})\\fs{size}}}"
        text = tags + r"\N".join(_escaped(line) for line in setting.lines)
        subs.append(pysubs2.SSAEvent(start=index * 1000, end=(index + 1) * 1000, text=text))
    return subs


def _escaped(line: str) -> str:
    """*line* as literal ASS text: braces would open override tags, a backslash a code such as \\N."""
    return line.replace("\\", "\\\u2060").replace("{", "\\{").replace("}", "\\}")


def _inside_safe_area(rgba: np.ndarray, band: Band) -> bool:
    """Whether a rendered subtitle's ink lies inside the safe width and off the canvas's top and bottom rows."""
    alpha = rgba[..., 3]
    columns = np.flatnonzero(alpha.any(axis=0))
    if columns.size == 0:
        return True
    margin = (1 - SAFE_WIDTH) / 2 * band.width - 1  # a pixel of anti-aliasing may spill
    inside = columns[0] >= margin and columns[-1] < band.width - margin
    return bool(inside and not alpha[0].any() and not alpha[-1].any())


def typeset(
    pictures: Iterable[tuple[int, np.ndarray]], band: Band, overlays: Sequence[Overlay]
) -> Iterator[np.ndarray]:
    """The pictures (frame index, RGB), each with the overlay of the cue that covers its frame laid over the band;
    a picture no cue covers is passed on as it came, and outside the overlay's ink no pixel changes."""
    ordered = sorted(overlays, key=lambda overlay: overlay.first)
    starts = [overlay.first for overlay in ordered]
    current: tuple[int, _Blend] | None = None
    for index, picture in pictures:
        at = bisect.bisect_right(starts, index) - 1
        if at < 0 or index >= ordered[at].end:
            yield picture
            continue
        if picture.shape != (band.height, band.width, 3):
            raise StageFailed(
                f"frame {index} is {picture.shape[1]}x{picture.shape[0]}, the band's video is "
                f"{band.width}x{band.height}"
            )
        if current is None or current[0] != at:
            current = (at, _Blend.of(ordered[at].rgba))
        yield current[1].over(picture, band.top)


@dataclass(frozen=True)
class _Blend:
    """An overlay ready to lay over pictures: its ink's bounding box, colour × alpha and 255 − alpha there."""

    rows: slice
    columns: slice
    colour: np.ndarray
    clear: np.ndarray

    @classmethod
    def of(cls, rgba: np.ndarray) -> _Blend:
        alpha = rgba[..., 3]
        rows, columns = np.flatnonzero(alpha.any(axis=1)), np.flatnonzero(alpha.any(axis=0))
        if rows.size == 0:
            return cls(slice(0, 0), slice(0, 0), np.zeros((0, 0, 3), np.uint32), np.zeros((0, 0, 1), np.uint32))
        box = rgba[rows[0] : rows[-1] + 1, columns[0] : columns[-1] + 1].astype(np.uint32)
        clear = 255 - box[..., 3:]
        return cls(slice(rows[0], rows[-1] + 1), slice(columns[0], columns[-1] + 1), box[..., :3] * box[..., 3:], clear)

    def over(self, picture: np.ndarray, top: int) -> np.ndarray:
        out = picture.copy()
        rows = slice(top + self.rows.start, top + self.rows.stop)
        under = out[rows, self.columns].astype(np.uint32)
        out[rows, self.columns] = ((self.colour + under * self.clear + 127) // 255).astype(np.uint8)
        return out
