"""Side-by-side review clips: the original and the dub next to each other, each line's text burned in under
its side, with the dub's sound. One short clip per chosen line, or the whole episode."""

from __future__ import annotations

import tempfile
import textwrap
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from dubkit import audio, languages, media

VERSION = 1  # bump when a change here changes the bytes of a cache entry (see dubkit.cache)
HEIGHT = 360  # each side scaled to this height
CAPTION = 84  # pixels of text band under each side
GAP = 8
MARGIN_S = 0.5  # shown before and after a line
AUDIO_RATE = 48000


def worst_lines(lines: Sequence[dict], count: int) -> list[dict]:
    """The *count* lines a reviewer should see first: most flags, then highest word error, then worst sync."""

    def badness(line: dict) -> tuple:
        after = line["sync"]["after"]
        return (len(line["flags"]), line["asr"]["wer"], abs(after["offset_frames"]) if after else 0.0)

    return sorted(lines, key=badness, reverse=True)[: max(0, count)]


def line_clip(original: Path, dubbed: Path, line: dict, target: str, out: Path) -> Path:
    """original | dubbed over the line's span (± `MARGIN_S`), its source text and translation burned in."""
    start = max(0.0, min(line["original"]["start_ms"], (line["dubbed"] or line["original"])["start_ms"]) / 1000)
    end = max(line["original"]["end_ms"], (line["dubbed"] or line["original"])["end_ms"]) / 1000
    start, end = max(0.0, start - MARGIN_S), end + MARGIN_S
    left = media.video_span(original, start, end, HEIGHT)
    right = media.video_span(dubbed, start, end, HEIGHT)
    captions = (line["text"], line["translation"])
    pictures = (_side_by_side(a.rgb, b.rgb, captions) for a, b in zip(left, right, strict=False))
    return _with_sound(pictures, dubbed, start, end, target, out, media.probe(original).fps or 25.0)


def full_clip(original: Path, dubbed: Path, lines: Sequence[dict], target: str, out: Path) -> Path:
    """The whole episode side by side, each frame captioned with the line it shows (if any)."""
    left, right = media.video_frames(original, HEIGHT), media.video_frames(dubbed, HEIGHT)
    pictures = (_side_by_side(a.rgb, b.rgb, _captions_at(lines, a.time_s)) for a, b in zip(left, right, strict=False))
    duration = media.probe(dubbed).duration_s
    return _with_sound(pictures, dubbed, 0.0, duration, target, out, media.probe(original).fps or 25.0)


def _captions_at(lines: Sequence[dict], time_s: float) -> tuple[str, str]:
    for line in lines:
        if line["original"]["start_ms"] <= time_s * 1000 < line["original"]["end_ms"]:
            return line["text"], line["translation"]
    return "", ""


def _with_sound(
    pictures: Iterator[np.ndarray], dubbed: Path, start: float, end: float, target: str, out: Path, fps: float
) -> Path:
    with tempfile.TemporaryDirectory(prefix="dubkit-sample-") as tmp:
        video = media.write_video(pictures, Path(tmp) / "picture.mp4", fps, crf=23)
        sound = media.decode_audio(dubbed, AUDIO_RATE, 2)[int(start * AUDIO_RATE) : int(end * AUDIO_RATE)]
        audio.write_wav(Path(tmp) / "sound.wav", sound, AUDIO_RATE)
        return media.mux(video, Path(tmp) / "sound.wav", out, languages.iso639_2(target), end - start)


def _side_by_side(left: np.ndarray, right: np.ndarray, captions: tuple[str, str]) -> np.ndarray:
    height = max(left.shape[0], right.shape[0])
    sides = [
        _captioned(_padded(side, height), text, label)
        for side, text, label in zip((left, right), captions, ("original", "dubbed"), strict=True)
    ]
    gap = np.full((sides[0].shape[0], GAP, 3), 255, np.uint8)
    picture = np.concatenate([sides[0], gap, sides[1]], axis=1)
    return picture[: picture.shape[0] // 2 * 2, : picture.shape[1] // 2 * 2]


def _padded(rgb: np.ndarray, height: int) -> np.ndarray:
    if rgb.shape[0] == height:
        return rgb
    return np.pad(rgb, ((0, height - rgb.shape[0]), (0, 0), (0, 0)))


def _captioned(rgb: np.ndarray, text: str, label: str) -> np.ndarray:
    """*rgb* with a label in its corner and a band of wrapped *text* under it."""
    from PIL import Image, ImageDraw, ImageFont

    width = rgb.shape[1]
    canvas = Image.new("RGB", (width, rgb.shape[0] + CAPTION), (16, 16, 16))
    canvas.paste(Image.fromarray(np.ascontiguousarray(rgb)), (0, 0))
    draw = ImageDraw.Draw(canvas)
    small, body = ImageFont.load_default(size=14), ImageFont.load_default(size=15)
    draw.rectangle((0, 0, 8 * len(label) + 12, 20), fill=(0, 0, 0))
    draw.text((6, 3), label, font=small, fill=(255, 255, 255))
    wrapped = textwrap.wrap(text, width=max(12, width // 8))[:4]
    draw.multiline_text((8, rgb.shape[0] + 6), "\n".join(wrapped), font=body, fill=(240, 240, 240), spacing=3)
    return np.asarray(canvas)
