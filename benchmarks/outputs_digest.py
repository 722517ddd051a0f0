"""Digests of what a dub delivers, to show that a change of code layout changed no output byte.

Dubs each clip en→es with `python -m dubkit translate` (the embedded default, lip-sync on) into a fresh output
folder and cache, then prints one line per delivered file: its path under the output folder and its sha256. Run it
on two checkouts and diff the lines. The review report's HTML and JSON carry timings and paths, so they are listed
by name only; every other file (the dubbed MP4/MKV, subtitles, script, stems, loudness) must match byte for byte.

    PYTHONPATH=CHECKOUT python benchmarks/outputs_digest.py [--media ../shared/media] [--out DIR] > digests.txt
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
from pathlib import Path

CLIPS = (
    "video/grid/bbaf2n.mpg",
    "video/grid/swiz3n.mpg",
    "video/talking_heads/face_1.mp4",
    "video/hard_cases/grid_2speakers_side_by_side_turns.mp4",
)
UNSTABLE = {".html", ".json"}  # under qa/: timings and absolute paths


def dub(clip: Path, out: Path) -> Path:
    outdir = out / clip.stem
    command = [sys.executable, "-m", "dubkit", "translate", str(clip), "--to", "es", "--from", "en"]
    command += ["-o", str(outdir), "--cache-dir", str(out / "cache")]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"{clip.name}: dub failed ({done.returncode}): {done.stderr.strip()}")
    return outdir


def digests(outdir: Path) -> list[str]:
    lines = []
    for path in sorted(p for p in outdir.rglob("*") if p.is_file()):
        name = path.relative_to(outdir.parent).as_posix()
        if "qa" in path.relative_to(outdir).parts and path.suffix in UNSTABLE:
            lines.append(f"{name} (not compared)")
        else:
            lines.append(f"{name} {hashlib.sha256(path.read_bytes()).hexdigest()}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--media", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "media")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="dubkit-digest-"))
    for clip in CLIPS:
        for line in digests(dub(args.media / clip, out)):
            print(line, flush=True)


if __name__ == "__main__":
    main()
