"""Burned-in subtitles read back: how well and how fast `dubkit.hardsubs` finds the band and reads it.

Clips are built as the tests build them (tests/hardsub_clips.py): FLORES-200 zho_Hans sentences drawn onto the
portrait footage (540×960) in white with a black outline, at several sizes and heights, and the hard cases
(two lines, the top of the picture, another face, outline and fill, a karaoke sweep, flicker, a fade). Per clip:
whether the band was found around the text; the read cues' in/out error in frames against the drawn ones (median
and 95th percentile over all cues); the OCR character error (PP-OCRv4 through the `ocr/rapidocr` backend) over
the words' characters and with punctuation counted; the seconds and frames/s of detection (band + change
detection) and of reading. Then the scan's cost on the same footage without subtitles (seconds per minute of
video), and whether a static sign and a corner logo are left alone.

    .venv/bin/python benchmarks/hardsubs.py [--out DIR] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dubkit import hardsubs, media  # noqa: E402
from dubkit.backends import registry  # noqa: E402
from tests.hardsub_clips import FOOTAGE, HEIGHT, ZEN_HEI_SHARP, Burned, Style, burn_clip, draw, letters  # noqa: E402

CASES = {
    "34px-bottom": (34, 0.86, Style()),
    "26px-lower": (26, 0.74, Style()),
    "44px-bottom": (44, 0.88, Style()),
    "30px-middle": (30, 0.62, Style()),
    "30px-top": (30, 0.12, Style()),
    "30px-two-lines": (30, 0.84, Style(two_lines=True)),
    "34px-sharp-yellow-outline5": (34, 0.84, Style(face=ZEN_HEI_SHARP, outline=5, fill="#ffe14d")),
    "30px-karaoke": (30, 0.84, Style(sweep="#3cb4ff")),
    "30px-flicker": (30, 0.84, Style(flicker=2)),
    "30px-fade3": (30, 0.84, Style(fade=3)),
}


def character_error(truth: str, read: str) -> float:
    import jiwer

    return float(jiwer.cer(truth, read)) if truth else 0.0


def measure(clip: Burned, reader: object) -> dict:
    frames = clip.cues[-1][1] if clip.cues else 0
    started = time.perf_counter()
    band = hardsubs.find_band(clip.path)
    found_s = time.perf_counter() - started
    if band is None:
        return {"band": None, "detect_s": round(found_s, 2)}
    sum(1 for _ in hardsubs.text_runs(clip.path, band))
    detect_s = time.perf_counter() - started
    started = time.perf_counter()
    cues = hardsubs.read_cues(clip.path, band, reader)  # type: ignore[arg-type]
    read_s = time.perf_counter() - started
    errors = []
    for first, end, _text in clip.cues:  # the cues read, against the drawn ones
        near = min(cues, key=lambda c: abs(c.first - first) + abs(c.end - end))
        errors += [abs(near.first - first), abs(near.end - end)]
    truth = "".join(text for _, _, text in clip.cues)
    read = "".join(cue.text for cue in cues)
    return {
        "band": [band.top, band.bottom],
        "text_rows": list(clip.rows),
        "around": band.top <= clip.rows[0] and band.bottom >= clip.rows[1],
        "cues": [len(clip.cues), len(cues)],
        "in_out_frames_median": float(np.median(errors)) if cues else None,
        "in_out_frames_p95": float(np.percentile(errors, 95)) if cues else None,
        "cer_letters": round(character_error(letters(truth), letters(read)), 4),
        "cer_with_punctuation": round(character_error(truth, read), 4),
        "detect_s": round(detect_s, 2),
        "detect_fps": round(frames / detect_s, 1),
        "read_s": round(read_s, 2),
    }


def scan_cost(out: Path) -> dict:
    fps = media.probe(FOOTAGE).fps
    plain = media.write_video([f.rgb for f in media.video_frames(FOOTAGE, HEIGHT)], out / "plain.mp4", fps)
    frames = [draw(draw(f.rgb, "幸福小区", 40, 0.82), "剧", 30, 0.05) for f in media.video_frames(FOOTAGE, HEIGHT)]
    sign = media.write_video(frames, out / "sign.mp4", fps)
    started = time.perf_counter()
    none_found = hardsubs.find_band(plain) is None
    seconds = time.perf_counter() - started
    minutes = media.probe(plain).duration_s / 60
    return {
        "plain_band_none": none_found,
        "scan_s_per_minute": round(seconds / minutes, 2),
        "sign_and_logo_band_none": hardsubs.find_band(sign) is None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="dubkit-hardsubs-"))
    out.mkdir(parents=True, exist_ok=True)
    reader = registry.create("ocr", "rapidocr", {})
    found = {
        name: measure(burn_clip(out / f"{name}.mp4", px, y, style=style), reader)
        for name, (px, y, style) in CASES.items()
    }
    found["no subtitles"] = scan_cost(out)
    if args.json:
        print(json.dumps(found, indent=2))
        return
    for name, figures in found.items():
        print(f"{name:>26}: " + ", ".join(f"{k} {v}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
