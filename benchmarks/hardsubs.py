"""Burned-in subtitles read back: how well and how fast `dubkit.hardsubs` finds the band and reads it.

Clips are built as the tests build them (tests/hardsub_clips.py): FLORES-200 zho_Hans sentences drawn onto the
portrait footage (540×960) in white with a black outline, at several sizes and heights, and the hard cases
(two lines, the top of the picture, another face, outline and fill, a karaoke sweep, flicker, a fade), and cues
two frames apart (up to the clip's first and last frame: subtitles nearly always on screen). Per clip:
whether the band was found around the text; the read cues' in/out error in frames against the drawn ones (median
and 95th percentile over all cues); the OCR character error (PP-OCRv4 through the `ocr/rapidocr` backend) over
the words' characters and with punctuation counted; the seconds and frames/s of detection (band + change
detection) and of reading. Then the scan's cost on the same footage without subtitles (seconds per minute of
video, three times, with the load average), and whether a static sign and a corner logo are left alone.

Erase (`hardsubs.erase`, with the band and cues found as above), on the portrait clip and on a clip over a moving
background (face_4.mp4: a speaker who moves under the text): the share of erased frames (every 5th inside a drawn
cue) where OCR finds no text at all, and where it finds none of the burned text's characters, with what it read;
PSNR inside the band against the un-subtitled footage, of erase's pictures and
after they are encoded (`media.write_video`), and of the subtitled pictures for comparison; whether every pixel
outside the band was left as decoded; stills (original | subtitled | erased band) as PNG under --out. Then the
speed of detection (band + change detection) plus erase (decoding included; OCR not) on the footage at 720×1280.

Dub (`--only dub`): the demo sample (samples/make_sample.py: real Mandarin speech, two Chinese cues burned in)
dubbed by the CLI into es and en with `--hardsubs replace`, the delivered MP4 read back with OCR every 5th frame
inside the original cues and the dub's SRT cues. Per dub: the share of frames read inside the original cues with
none of the burned characters and with no Chinese at all; the OCR character error of the set text against the SRT
cue shown (lowercased, accents, spaces and punctuation dropped: PP-OCR drops accents); the script's source text
against the burned text (letters only); seconds per stage (`--json`, cold cache); stills under --out: the original
and the dubbed frame side by side, inside each original cue.

    .venv/bin/python benchmarks/hardsubs.py [--out DIR] [--json] [--only read|erase|dub]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dubkit import hardsubs, media  # noqa: E402
from dubkit.backends import registry  # noqa: E402
from dubkit.hardsubs.erase import erase  # noqa: E402
from tests.hardsub_clips import FOOTAGE, HEIGHT, ZEN_HEI_SHARP, Burned, Style, burn_clip, draw, letters  # noqa: E402
from tests.media_fixtures import MEDIA  # noqa: E402

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
DENSE = {  # cue after cue, two frames apart: text in nearly every sample
    "30px-gap2": (30, 0.84, {"gap": 2}),
    "30px-gap2-whole": (30, 0.84, {"gap": 2, "whole": True}),  # from the first frame to the last
}
MOVING = MEDIA / "video" / "talking_heads" / "face_4.mp4"  # 700×700, the speaker's body moves under the band
ERASE_CASES = {"erase-portrait": (FOOTAGE, HEIGHT, 34, 0.86), "erase-moving": (MOVING, 700, 30, 0.86)}
OCR_EVERY = 5
SCANS = 3  # the scan without subtitles is timed this many times (the machine is shared: its load is reported)
STILLS = 3


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
    minutes = media.probe(plain).duration_s / 60
    none_found, per_minute = True, []
    for _ in range(SCANS):
        started = time.perf_counter()
        none_found &= hardsubs.find_band(plain) is None
        per_minute.append(round((time.perf_counter() - started) / minutes, 2))
    return {
        "plain_band_none": none_found,
        "scan_s_per_minute": per_minute,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "sign_and_logo_band_none": hardsubs.find_band(sign) is None,
    }


def psnr(mse: float) -> float:
    return round(10 * float(np.log10(255.0**2 / mse)), 2) if mse > 0 else float("inf")


def band_mse(picture: np.ndarray, original: np.ndarray, band: hardsubs.Band) -> float:
    return float(np.mean((picture[band.top : band.bottom].astype(np.float32) - original[band.top : band.bottom]) ** 2))


def erase_quality(clip: Burned, footage: tuple[Path, int], reader: object, out: Path) -> dict:
    """Erase *clip*'s subtitles and compare the band with the footage they were burned onto."""
    band = hardsubs.find_band(clip.path)
    if band is None:
        return {"band": None}
    cues = hardsubs.read_cues(clip.path, band, reader)  # type: ignore[arg-type]
    inside = {i for first, end, _ in clip.cues for i in range(first, end)}
    middles = {(first + end) // 2 for first, end, _ in clip.cues[:STILLS]}
    drawn = {i: text for first, end, text in clip.cues for i in range(first, end)}
    figures = {"erased": [], "subtitled": [], "ocr_read": 0, "ocr_found": {}, "outside_identical": True}

    def pictures():
        burned = media.video_frames(clip.path)
        originals = media.video_frames(*footage)
        for frame, erased, original in zip(
            burned, erase(media.video_frames(clip.path), band, cues), originals, strict=True
        ):
            outside = np.delete(erased, np.s_[band.top : band.bottom], axis=0)
            figures["outside_identical"] &= bool(
                np.array_equal(outside, np.delete(frame.rgb, np.s_[band.top : band.bottom], axis=0))
            )
            if frame.index in inside:
                figures["erased"].append(band_mse(erased, original.rgb, band))
                figures["subtitled"].append(band_mse(frame.rgb, original.rgb, band))
                if (frame.index - min(inside)) % OCR_EVERY == 0:
                    figures["ocr_read"] += 1
                    lines = reader.read(erased[band.top : band.bottom])  # type: ignore[attr-defined]
                    if lines:
                        figures["ocr_found"][frame.index] = "".join(line.text for line in lines)
            if frame.index in middles:
                crops = [p[band.top : band.bottom] for p in (original.rgb, frame.rgb, erased)]
                Image.fromarray(np.concatenate(crops, axis=1)).save(out / f"{clip.path.stem}-{frame.index}.png")
            yield erased

    from PIL import Image

    encoded = media.write_video(pictures(), out / f"{clip.path.stem}-erased.mp4", clip.fps)
    after = [
        band_mse(frame.rgb, original.rgb, band)
        for frame, original in zip(media.video_frames(encoded), media.video_frames(*footage), strict=True)
        if frame.index in inside
    ]
    found = figures["ocr_found"]
    subtitle_left = [index for index, text in found.items() if set(text) & set(letters(drawn[index]))]
    return {
        "band": [band.top, band.bottom],
        "cues": [len(clip.cues), len(cues)],
        "ocr_frames_read": figures["ocr_read"],
        "no_text_share": round(1 - len(found) / max(1, figures["ocr_read"]), 4),
        "no_subtitle_char_share": round(1 - len(subtitle_left) / max(1, figures["ocr_read"]), 4),
        "ocr_found": found,
        "psnr_erased": psnr(float(np.mean(figures["erased"]))),
        "psnr_erased_worst_frame": psnr(max(figures["erased"])),
        "psnr_encoded": psnr(float(np.mean(after))),
        "psnr_subtitled": psnr(float(np.mean(figures["subtitled"]))),
        "outside_band_identical": figures["outside_identical"],
    }


def erase_speed(out: Path, reader: object) -> dict:
    """Detection (band + change detection) and erase, decoding included, on the footage at 720×1280."""
    import os

    clip = burn_clip(out / "erase-720x1280.mp4", 45, 0.86, footage=(FOOTAGE, 1280))
    band = hardsubs.find_band(clip.path)
    if band is None:
        return {"band": None}
    cues = hardsubs.read_cues(clip.path, band, reader)  # type: ignore[arg-type]
    started = time.perf_counter()
    found = hardsubs.find_band(clip.path)
    assert found is not None
    runs = sum(1 for _ in hardsubs.text_runs(clip.path, found))
    detect_s = time.perf_counter() - started
    frames = sum(1 for _ in erase(media.video_frames(clip.path), found, cues))
    total_s = time.perf_counter() - started
    return {
        "size": [band.width, band.height],
        "frames": frames,
        "runs": runs,
        "detect_s": round(detect_s, 2),
        "erase_s": round(total_s - detect_s, 2),
        "detect_and_erase_fps": round(frames / total_s, 1),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def dub_replaced(out: Path, target: str, reader: object) -> dict:
    """The demo sample dubbed into *target* with its subtitles replaced, read back (see the module's docstring)."""
    import subprocess

    from PIL import Image

    from tests.clitools import dubkit, summary
    from tests.hardsub_clips import band_readings, chinese, demo_builder, latin_letters, sampled, shown, srt_cues

    builder = demo_builder()
    episode = out / "demo.mp4"
    if not episode.exists():
        subprocess.run([sys.executable, builder.__file__, str(episode)], check=True, capture_output=True)
    done = summary(
        dubkit("translate", episode, "--to", target, "-o", out / f"dub-{target}", "--json", cache=out / "cache")
    )
    video = Path(done["output"])
    cues = [(a, b, text) for (a, b), text in zip(builder.cue_times(builder.dialogue()), builder.CUES, strict=True)]
    subtitles = srt_cues(Path(done["subtitles"]))
    centre, fps = builder.TEXT_Y * builder.SIZE[1], media.probe(video).fps
    rows = (int(centre - 2.5 * builder.FONT_PX), int(centre + 2.5 * builder.FONT_PX))
    plain = next(media.video_frames(episode, only={0})).rgb
    inside = sampled([(a, b) for a, b, _ in cues], fps)
    read = band_readings(video, rows, reader, inside | sampled([(a, b) for a, b, _ in subtitles], fps), lambda _: plain)
    burned = set(letters("".join(builder.CUES)))
    errors = {}
    for index, (time_s, text) in read.items():
        expected = shown(subtitles, time_s)
        if expected:
            errors[index] = character_error(latin_letters(expected), latin_letters(text))
    segments = json.loads(Path(done["script"]).read_text(encoding="utf-8"))["segments"]
    middles = {round(sum(_shared_span((a, b), subtitles)) / 2 * fps) for a, b, _ in cues}
    originals = {frame.index: frame.rgb for frame in media.video_frames(episode, only=middles)}
    for frame in media.video_frames(video, only=middles):
        still = np.concatenate([originals[frame.index], frame.rgb], axis=1)
        Image.fromarray(still).save(out / f"dub-{target}-{frame.index}.png")
    return {
        "frames_read_in_cues": len(inside),
        "no_burned_char_share": round(sum(not set(read[i][1]) & burned for i in inside) / len(inside), 4),
        "no_chinese_share": round(sum(not chinese(read[i][1]) for i in inside) / len(inside), 4),
        "chinese_read": sorted({chinese(read[i][1]) for i in inside} - {""}),
        "set_text_cer_mean": round(float(np.mean(list(errors.values()))), 4) if errors else None,
        "set_text_cer_worst": round(max(errors.values()), 4) if errors else None,
        "set_text_frames": len(errors),
        "read_at_worst": read[max(errors, key=errors.__getitem__)][1] if errors else None,
        "srt": [text for _, _, text in subtitles],
        "source_cer": round(
            character_error(letters("".join(builder.CUES)), letters("".join(s["text"] for s in segments))), 4
        ),
        "stage_s": {name: stage["seconds"] for name, stage in done["stages"].items()},
        "all_s": round(sum(stage["seconds"] for stage in done["stages"].values()), 1),
    }


def _shared_span(cue: tuple[float, float], subtitles: list[tuple[float, float, str]]) -> tuple[float, float]:
    """The part of an original *cue*'s span (s) where the dub's subtitle that overlaps it most is shown too (the
    cue's own span where none does): a still there shows the original and its replacement."""
    spans = [(max(cue[0], start), min(cue[1], end)) for start, end, _ in subtitles]
    return max((span for span in spans if span[1] > span[0]), key=lambda s: s[1] - s[0], default=cue)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--only", choices=["read", "erase", "dub"], default=None, help="run one section")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="dubkit-hardsubs-"))
    out.mkdir(parents=True, exist_ok=True)
    reader = registry.create("ocr", "rapidocr", {})
    found: dict[str, dict] = {}
    if args.only in (None, "read"):
        for name, (px, y, style) in CASES.items():
            found[name] = measure(burn_clip(out / f"{name}.mp4", px, y, style=style), reader)
        for name, (px, y, spacing) in DENSE.items():
            found[name] = measure(burn_clip(out / f"{name}.mp4", px, y, **spacing), reader)
        found["no subtitles"] = scan_cost(out)
    if args.only in (None, "erase"):
        for name, (path, height, px, y) in ERASE_CASES.items():
            clip = burn_clip(out / f"{name}.mp4", px, y, footage=(path, height))
            found[name] = erase_quality(clip, (path, height), reader, out)
        found["erase-speed"] = erase_speed(out, reader)
    if args.only in (None, "dub"):
        for target in ("es", "en"):
            found[f"dub-{target}"] = dub_replaced(out, target, reader)
    if args.json:
        print(json.dumps(found, indent=2))
        return
    for name, figures in found.items():
        print(f"{name:>26}: " + ", ".join(f"{k} {v}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
