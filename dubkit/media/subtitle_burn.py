"""Subtitles drawn by libass (ffmpeg's `ass` filter) onto transparent pictures, to be composited later.

An ASS file is rendered at one picture per second: picture *i* shows what the file shows at *i* seconds, so a
caller renders many texts in one ffmpeg run by giving each its own second. libass blends into an opaque picture,
so every picture is drawn twice, over black and over white, and the two give the exact coverage and colour:
over black a pixel is `colour × alpha`, over white `colour × alpha + 255 × (1 − alpha)`. The result is what libass
would draw onto any background, as straight (not premultiplied) RGBA.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dubkit.errors import MediaError
from dubkit.media import ffmpeg

MAX_PICTURES = 10_000  # a caller's batch; more would hold gigabytes of pictures in memory


def render_subtitles(ass: Path, width: int, height: int, count: int, fonts_dir: Path | None = None) -> np.ndarray:
    """The subtitles *ass* shows at 0, 1, … count − 1 seconds on a transparent *width* × *height* canvas:
    uint8 (count, height, width, 4) RGBA. *fonts_dir*: a folder libass loads fonts from, besides fontconfig's."""
    ass = Path(ass)
    if not ass.is_file():
        raise MediaError(ass, "file not found")
    if width <= 0 or height <= 0 or not 0 < count <= MAX_PICTURES:
        raise MediaError(ass, f"cannot render {count} pictures of {width}x{height}")
    options = f"filename={_option_value(str(ass.resolve()))}"
    if fonts_dir is not None:
        options += f":fontsdir={_option_value(str(Path(fonts_dir).resolve()))}"
    canvas = f"s={width}x{height}:r=1,format=rgb24"
    graph = f"color=c=black:{canvas},ass={options}[b];color=c=white:{canvas},ass={options}[w];[b][w]vstack"
    args = ["-filter_complex", graph, "-frames:v", str(count), "-f", "rawvideo", "-pix_fmt", "rgb24"]
    proc = ffmpeg.run([*args, "-protocol_whitelist", "pipe", "pipe:1"], ass)
    pairs = np.frombuffer(proc.stdout, dtype=np.uint8)
    if pairs.size != count * 2 * height * width * 3:
        raise MediaError(ass, f"ffmpeg gave {pairs.size} bytes, not {count} pictures of {width}x{height}")
    pairs = pairs.reshape(count, 2, height, width, 3).astype(np.int32)
    return _unblend(pairs[:, 0], pairs[:, 1])


def _unblend(on_black: np.ndarray, on_white: np.ndarray) -> np.ndarray:
    """Straight RGBA from the same subtitles drawn over black and over white (int32 arrays)."""
    alpha = np.clip(255 - np.rint((on_white - on_black).mean(axis=-1)).astype(np.int32), 0, 255)
    colour = np.where(alpha[..., None] > 0, on_black * 255 // np.maximum(alpha, 1)[..., None], 0)
    return np.concatenate([np.clip(colour, 0, 255), alpha[..., None]], axis=-1).astype(np.uint8)


def _option_value(value: str) -> str:
    """*value* escaped for a filter option inside a filtergraph (ffmpeg's two levels: the option's `\\ ' :`, then
    the graph's `\\ ' [ ] , ;`), so a path with any of them is read as one value."""
    for char in "\\':":
        value = value.replace(char, "\\" + char)
    for char in "\\'[],;":
        value = value.replace(char, "\\" + char)
    return value
