"""Lip-sync quality on the real clips: each dubbed en→es with `dubkit translate` (the default CPU engine).

Per clip:
- sync confidence of the *untouched* picture against the dubbed audio, and of the *lip-synced* picture
  against the same audio (`dubkit.lipsync.sync.estimate` on the largest face), with the estimated offset after;
  and per line, from the review report (the face that follows the speech best: the speaker when two take
  turns), the median confidence before and after and the largest offset after;
- fidelity outside the mouths: every output frame against the decoded input, PSNR of luma (Y) and of RGB
  over the pixels outside every face's lower-face region (box width + 10 % each side, from the mouth line
  less 10 % of the face height to 15 % below the chin): minimum and mean over frames;
- frames with no face: how many, and how many are bit-identical to the input;
- the lip-sync stage's spans (rendered / in all) and seconds.
Side-by-side stills (original | dubbed, the face enlarged) of the three loudest dubbed frames of each clip
are written to OUT/stills/ for a person to look at.

    .venv/bin/python benchmarks/lipsync_dub.py [--media ../shared/media] [--out benchmarks/out/lipsync] [--json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dubkit import media  # noqa: E402
from dubkit.lipsync import tracks  # noqa: E402
from dubkit.lipsync.faces import mouth_track  # noqa: E402
from dubkit.lipsync.sync import estimate, speech_envelope  # noqa: E402

RATE = 16000
GRID = ("bbaf2n", "brbk7n", "lbax4n", "lbbc2a", "lrwp9a", "lwbsza", "pwij3p", "sbia1a", "sbwe5n", "swiz3n")
CLIPS = (
    *(f"video/grid/{name}.mpg" for name in GRID),
    "video/talking_heads/face_1.mp4",
    "video/talking_heads/face_4.mp4",
    "video/talking_heads/portrait_demo1.mp4",
    "video/hard_cases/grid_2speakers_side_by_side_turns.mp4",
    "video/hard_cases/grid_3speakers_hard_cuts.mp4",
)


def dub(clip: Path, out: Path) -> dict:
    command = [sys.executable, "-m", "dubkit", "translate", str(clip), "--to", "es", "--from", "en"]
    command += ["-o", str(out / "dubbed"), "--cache-dir", str(out / "cache"), "--json"]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"{clip.name}: dub failed ({done.returncode}): {done.stderr.strip()}")
    return json.loads(done.stdout)


def lower_faces(analysis: tracks.Analysis, shape: tuple[int, int]) -> dict[int, np.ndarray]:
    """Frame index → mask of every face's lower-face region in it (where a mouth may be re-animated)."""
    height, width = shape
    masks: dict[int, np.ndarray] = {}
    for track in analysis.tracks:
        for frame, box, corners in zip(track.frames, track.boxes, track.corners, strict=True):
            x0, y0, x1, y1 = box * (width, height, width, height)
            mouth_y = corners[:, 1].min() * height
            face_h, face_w = y1 - y0, x1 - x0
            mask = masks.setdefault(int(frame), np.zeros(shape, bool))
            rows = slice(max(0, int(mouth_y - 0.1 * face_h)), min(height, int(y1 + 0.15 * face_h) + 1))
            mask[rows, max(0, int(x0 - 0.1 * face_w)) : min(width, int(x1 + 0.1 * face_w) + 1)] = True
    return masks


def fidelity(clip: Path, output: Path, masks: dict[int, np.ndarray]) -> dict:
    """PSNR outside the lower faces (Y and RGB), and how many faceless frames are bit-identical."""
    import av

    y_psnr, rgb_psnr, faceless, identical = [], [], 0, 0
    with av.open(str(clip)) as a, av.open(str(output)) as b:
        pairs = zip(a.decode(video=0), b.decode(video=0), strict=False)
        for index, (old, new) in enumerate(pairs):
            old_rgb, new_rgb = old.to_ndarray(format="rgb24"), new.to_ndarray(format="rgb24")
            old_y, new_y = (f.to_ndarray(format="gray") for f in (old, new))
            if index not in masks:
                faceless += 1
                identical += int(np.array_equal(old_rgb, new_rgb))
            outside = ~masks.get(index, np.zeros(old_y.shape, bool))
            y_psnr.append(psnr(old_y[outside], new_y[outside]))
            rgb_psnr.append(psnr(old_rgb[outside], new_rgb[outside]))
    return {
        "psnr_y_min": round(min(y_psnr), 1),
        "psnr_y_mean": round(float(np.mean(y_psnr)), 1),
        "psnr_rgb_min": round(min(rgb_psnr), 1),
        "faceless_frames": faceless,
        "faceless_identical": identical,
    }


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b) ** 2)) if a.size else 0.0
    return 99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse)


def stills(clip: Path, output: Path, analysis: tracks.Analysis, dub_audio: np.ndarray, folder: Path) -> list[str]:
    """original | dubbed of the three loudest dubbed frames with a face, the face enlarged to 256 px high."""
    from PIL import Image

    faced = sorted({int(f) for t in analysis.tracks for f in t.frames})
    if not faced:
        return []
    loudness = speech_envelope(dub_audio, RATE, analysis.times_s[faced])
    chosen = {faced[i] for i in np.argsort(loudness)[-3:]}
    boxes = {int(f): box for t in analysis.tracks for f, box in zip(t.frames, t.boxes, strict=True)}
    written = []
    for old, new in zip(media.video_frames(clip), media.video_frames(output), strict=False):
        if old.index not in chosen:
            continue
        height, width = old.rgb.shape[:2]
        x0, y0, x1, y1 = (boxes[old.index] * (width, height, width, height)).astype(int)
        pad = (x1 - x0) // 4
        crop = (slice(max(0, y0 - pad), min(height, y1 + pad)), slice(max(0, x0 - pad), min(width, x1 + pad)))
        gap = np.full((old.rgb[crop].shape[0], 4, 3), 255, np.uint8)
        image = Image.fromarray(np.concatenate([old.rgb[crop], gap, new.rgb[crop]], axis=1))
        image = image.resize((round(image.width * 256 / image.height), 256))
        path = folder / f"{clip.stem}_{old.index:04d}.png"
        image.save(path)
        written.append(str(path))
    return written


def per_line(result: dict) -> dict:
    """Median sync confidence over the lines, before and after, from the review report: per line the face that
    follows the speech best (with two speakers taking turns, the speaking one; the whole-clip figures take the
    largest face)."""
    if not result.get("report"):
        return {}
    lines = json.loads((Path(result["report"]).parent / "report.json").read_text())["lines"]
    found = {}
    for side in ("before", "after"):
        values = [line["sync"][side]["confidence"] for line in lines if (line.get("sync") or {}).get(side)]
        found[f"lines_confidence_{side}"] = round(float(np.median(values)), 2) if values else None
    offsets = [abs(line["sync"]["after"]["offset_frames"]) for line in lines if (line.get("sync") or {}).get("after")]
    found["lines_offset_after_max"] = round(max(offsets), 2) if offsets else None
    return found


def measure(clip: Path, out: Path) -> dict:
    result = dub(clip, out)
    output = Path(result["output"])
    dub_audio = media.decode_audio(output, RATE, 1).reshape(-1)
    before = estimate(mouth_track(clip), dub_audio, RATE)
    after = estimate(mouth_track(output), dub_audio, RATE)
    analysis, info = tracks.analyse(clip), media.probe(clip)
    stage = result["stages"]["lipsync"]
    row = {
        "clip": clip.name,
        "confidence_before": round(before.confidence, 2) if before else None,
        "confidence_after": round(after.confidence, 2) if after else None,
        "offset_after_frames": round(after.offset_frames, 2) if after else None,
        "spans": f"{stage.get('counts', {}).get('spans_rendered', 0)}/{stage.get('counts', {}).get('spans', 0)}",
        "lipsync_s": stage["seconds"],
        **per_line(result),
        **fidelity(clip, output, lower_faces(analysis, (info.height, info.width))),
    }
    (out / "stills").mkdir(parents=True, exist_ok=True)
    row["stills"] = len(stills(clip, output, analysis, dub_audio, out / "stills"))
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--media", type=Path, default=REPO.parent / "shared" / "media")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out" / "lipsync")
    parser.add_argument("--clips", nargs="*", help="only these (paths under --media)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = []
    for name in args.clips or CLIPS:
        clip = args.media / name
        if not clip.exists():
            print(f"skipped (absent): {clip}", file=sys.stderr)
            continue
        rows.append(measure(clip, args.out))
        if not args.json:
            print(json.dumps(rows[-1]), flush=True)
    if args.json:
        print(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
