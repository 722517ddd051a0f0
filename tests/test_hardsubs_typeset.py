"""Translated subtitles set where burned-in ones were: the originals' style is measured from Chinese lines drawn
with Pillow onto real footage, the translations are rendered by libass (through ffmpeg) into overlays the size of
the band, and laid over the pictures only where and when a cue shows. The slow test reads the result back with
PP-OCR."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dubkit import media
from dubkit.errors import BackendUnavailable, StageFailed
from dubkit.hardsubs import typeset as ts
from dubkit.hardsubs.band import Band
from dubkit.media import ffmpeg, subtitle_burn
from tests.hardsub_clips import FOOTAGE, HEIGHT, draw, sentences
from tests.media_fixtures import real

LONG = "Nunca he dejado de querer ser compositor, ni siquiera cuando todos se reían de mí."


@pytest.fixture(scope="module")
def footage() -> np.ndarray:
    """The first picture of the portrait footage, 540×960."""
    return next(media.video_span(real(FOOTAGE), 0.0, 0.1, HEIGHT)).rgb


def band_around(font_px: int, centre_y: float, picture: np.ndarray) -> Band:
    """A band as `find_band` gives one: the text's rows and a third of its height more above and below."""
    centre, half = round(centre_y * picture.shape[0]), round(font_px * 0.85)
    return Band(centre - half, centre + half, picture.shape[1], picture.shape[0], 1.0, 5)


@pytest.mark.parametrize("font_px", [26, 34, 44])
@pytest.mark.parametrize("centre_y", [0.12, 0.5, 0.86])
def test_the_style_of_an_original_is_measured(footage: np.ndarray, font_px: int, centre_y: float) -> None:
    picture = draw(footage, sentences(14, 1)[0], font_px, centre_y)
    style = ts.style_of(picture, band_around(font_px, centre_y, picture))
    assert style.font_px == pytest.approx(font_px, rel=0.15)
    assert style.outline_px == pytest.approx(max(2, font_px // 12), abs=1.5)  # the stroke Pillow drew
    assert style.centre_y == pytest.approx(centre_y, abs=0.01)
    assert min(style.colour) >= 230 and max(style.outline_colour) <= 40


def test_a_band_without_text_has_no_style(footage: np.ndarray) -> None:
    with pytest.raises(StageFailed, match="no subtitle text"):
        ts.style_of(footage, band_around(34, 0.86, footage))
    with pytest.raises(StageFailed, match="neither"):
        ts.style_of(footage[:100], band_around(34, 0.86, footage))


def style_and_band(footage: np.ndarray, font_px: int = 34, centre_y: float = 0.86) -> tuple[ts.Style, Band]:
    picture = draw(footage, sentences(14, 1)[0], font_px, centre_y)
    band = band_around(font_px, centre_y, picture)
    return ts.style_of(picture, band), band


def ink_columns(rgba: np.ndarray) -> np.ndarray:
    return np.flatnonzero(rgba[..., 3].any(axis=0))


def test_a_short_line_keeps_the_original_size_and_a_long_one_wraps_inside_the_safe_width(
    footage: np.ndarray, tmp_path: Path
) -> None:
    style, band = style_and_band(footage, font_px=44)
    short, long = ts.render_overlays([(0, 10, "¿Dónde está?"), (10, 20, LONG)], band, style, "es", tmp_path)
    assert short.lines == ("¿Dónde está?",) and short.font_px == style.font_px
    assert short.rgba.shape == (band.bottom - band.top, band.width, 4)
    assert len(long.lines) == 2 and " ".join(long.lines) == LONG
    for overlay in (short, long):
        columns = ink_columns(overlay.rgba)
        assert columns[0] >= 0.05 * band.width - 1 and columns[-1] <= 0.95 * band.width + 1
    rows = np.flatnonzero(long.rgba[..., 3].any(axis=1))
    assert not long.rgba[0, :, 3].any() and not long.rgba[-1, :, 3].any()  # nothing cut off at the band's edges
    assert rows[-1] - rows[0] > 1.6 * long.font_px  # two lines of ink (one is at most about 1.2 em tall)


def test_the_font_follows_the_target_language(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert ts.font_for("zh-Hans").family == "WenQuanYi Zen Hei"
    assert ts.font_for("ja").family == "WenQuanYi Zen Hei"
    assert ts.font_for("pt-BR").family == "DejaVu Sans"
    missing = ts.Font("DejaVu Sans", tmp_path / "absent.ttf", "fonts-dejavu-core", 1.164, 0.5)
    monkeypatch.setitem(ts.FONTS, "latin", missing)
    with pytest.raises(BackendUnavailable, match="apt-get install fonts-dejavu-core"):
        ts.font_for("es")


def test_the_font_metrics_are_those_of_the_installed_files() -> None:
    ttlib = pytest.importorskip("fontTools.ttLib")
    for font in ts.FONTS.values():
        if not font.file.exists():
            pytest.skip(f"font absent: {font.file} (apt-get install {font.package})")
        tables = ttlib.TTFont(str(font.file), fontNumber=0)
        os2, units = tables["OS/2"], tables["head"].unitsPerEm
        assert font.line_em == pytest.approx((os2.usWinAscent + os2.usWinDescent) / units, abs=0.002)


def test_an_overlay_lays_over_a_picture_as_libass_draws_onto_it(tmp_path: Path) -> None:
    """Drawn straight onto grey by ffmpeg's `ass` filter, or rendered transparent and laid over grey: the same."""
    band = Band(100, 180, 320, 400, 1.0, 5)
    style = ts.Style(font_px=30, outline_px=2.5, centre_y=0.35, colour=(250, 220, 40), outline_colour=(20, 0, 60))
    (overlay,) = ts.render_overlays([(0, 1, "Olá, {mundo} \\N!")], band, style, "pt", tmp_path)
    grey = np.full((400, 320, 3), 128, np.uint8)
    (laid,) = ts.typeset([(0, grey)], band, [overlay])
    ass = next(tmp_path.glob("typeset-0-0.ass"))
    graph = f"color=c=gray:s=320x80:r=1,format=rgb24,ass=filename={subtitle_burn._option_value(str(ass))}"
    out = ffmpeg.run(["-filter_complex", graph, "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"], ass)
    direct = np.frombuffer(out.stdout, np.uint8).reshape(80, 320, 3)
    assert np.abs(laid[100:180].astype(int) - direct).max() <= 2
    assert overlay.lines == ("Olá, {mundo} \\N!",)
    assert (laid != grey).any(axis=2).sum() > 500


def test_only_the_band_of_the_frames_a_cue_covers_changes(footage: np.ndarray, tmp_path: Path) -> None:
    style, band = style_and_band(footage)
    overlays = ts.render_overlays([(5, 8, "Hola."), (8, 10, "Adiós."), (12, 13, " ")], band, style, "es", tmp_path)
    assert [(o.first, o.end) for o in overlays] == [(5, 8), (8, 10)]  # a blank cue has no overlay
    pictures = [(index, footage) for index in range(14)]
    out = list(ts.typeset(pictures, band, overlays))
    for index, picture in enumerate(out):
        if not 5 <= index < 10:
            assert picture is footage
            continue
        assert np.array_equal(picture[: band.top], footage[: band.top])
        assert np.array_equal(picture[band.bottom :], footage[band.bottom :])
        assert (picture[band.top : band.bottom] != footage[band.top : band.bottom]).any()
    assert not np.array_equal(out[7], out[8])  # each frame gets its own cue's text
    with pytest.raises(StageFailed, match="the band's video is 540x960"):
        list(ts.typeset([(6, footage[:, :500])], band, overlays))


def test_a_work_folder_with_filtergraph_characters_renders(tmp_path: Path) -> None:
    work = tmp_path / "a:b, [c];'d\\e"
    band = Band(0, 60, 200, 300, 1.0, 5)
    (overlay,) = ts.render_overlays([(0, 1, "ok")], band, ts.Style(30, 2.0, 0.1), "en", work)
    assert ink_columns(overlay.rgba).size > 10


@pytest.mark.slow
@pytest.mark.parametrize(("text", "language"), [("¿Dónde está la estación?", "es"), ("Where is the station?", "en")])
def test_the_replacement_reads_back(footage: np.ndarray, tmp_path: Path, text: str, language: str) -> None:
    import unicodedata

    import jiwer

    from dubkit.backends import registry

    style, band = style_and_band(footage)
    overlays = ts.render_overlays([(0, 1, text)], band, style, language, tmp_path)
    (picture,) = ts.typeset([(0, footage)], band, overlays)
    reader = registry.create("ocr", "rapidocr", {})
    read = "".join(line.text for line in reader.read(picture[band.top : band.bottom]))

    def plain(value: str) -> str:  # PP-OCR's Chinese and English model reads accented letters without accents
        decomposed = unicodedata.normalize("NFD", value.lower())
        return "".join(c for c in decomposed if c.isalnum())

    # The model misreads a letter or two of Latin text (ó as 6, a letter doubled where a space was): text that
    # libass could not set (missing glyphs, clipped, unreadably small) reads far worse than this.
    assert jiwer.cer(plain(text), plain(read)) <= 0.15, read
