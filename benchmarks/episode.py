"""End-to-end benchmark: dub a ~2-minute 720p episode assembled from the real clips in ../shared/media.

Prints per-stage seconds, the real-time factor, peak RSS (of the dub: the largest of its process and its children), then
re-runs unchanged to time the all-cached path, and checks the timing contract (duration ± 1 frame, lines
start within 150 ms of their source, stretch ≤ 1.25×, overflows counted). Without lip-sync unless
`--lipsync` (then also the lip-sync stage's frames per second; `--minutes 10` for the long-input figures), and
without the review report unless `--qa`.

    .venv/bin/python benchmarks/episode.py [--media ../shared/media] [--to es] [--minutes 2] [--out benchmarks/out]
        [--lipsync] [--qa]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dubkit import media  # noqa: E402

CLIPS = [
    "video/talking_heads/face_1.mp4",
    "video/talking_heads/face_4.mp4",
    "video/hard_cases/grid_2speakers_side_by_side_turns.mp4",
    "video/hard_cases/grid_3speakers_hard_cuts.mp4",
    "video/talking_heads/portrait_demo1.mp4",
    *[
        f"video/grid/{n}.mpg"
        for n in ("bbaf2n", "brbk7n", "lbax4n", "lbbc2a", "lrwp9a", "lwbsza", "pwij3p", "sbia1a", "sbwe5n", "swiz3n")
    ],
]


def build_episode(media_dir: Path, out: Path, seconds: float) -> Path:
    """Concatenate the clips (repeated as needed) into one 1280x720 25 fps H.264 + AAC episode."""
    if out.exists():
        return out
    clips = [media_dir / c for c in CLIPS if (media_dir / c).exists()]
    if not clips:
        sys.exit(f"no clips found under {media_dir}")
    chosen, total = [], 0.0
    while total < seconds:
        for clip in clips:
            chosen.append(clip)
            total += media.probe(clip).duration_s
            if total >= seconds:
                break
    media.concat(chosen, out, width=1280, height=720, fps=25)
    return out


def run_dub(episode: Path, args: argparse.Namespace, cache: Path) -> tuple[dict, float, float]:
    """One `dubkit translate --json` run in a child process: (summary, wall seconds, peak RSS MB)."""
    command = [
        sys.executable,
        "-m",
        "dubkit",
        "translate",
        str(episode),
        "--to",
        args.to,
        "--from",
        "en",
        "-o",
        str(args.out / "dubbed"),
        "--cache-dir",
        str(cache),
        "--json",
        *([] if args.lipsync else ["--no-lipsync"]),
        *([] if args.qa else ["--no-qa"]),
    ]
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        started = time.perf_counter()
        child = subprocess.Popen(command, stdout=stdout, stderr=stderr)
        _, status, usage = os.wait4(child.pid, 0)  # this run's own peak, not the episode builder's ffmpeg
        wall = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        stdout.seek(0), stderr.seek(0)
        if child.returncode != 0:
            sys.exit(f"dub failed ({child.returncode}): {stderr.read().decode(errors='replace').strip()}")
        return json.loads(stdout.read()), wall, usage.ru_maxrss / 1024


def check_timing(summary: dict, episode: Path) -> dict:
    """The timing contract, measured on the output and the per-line fits."""
    source, dubbed = media.probe(episode), media.probe(Path(summary["output"]))
    frame = 1.0 / (source.fps or 25.0)
    script = {s["id"]: s for s in json.loads(Path(summary["script"]).read_text())["segments"]}
    fits = summary["fits"]
    return {
        "input_s": round(source.duration_s, 3),
        "output_s": round(dubbed.duration_s, 3),
        "duration_within_1_frame": abs(dubbed.duration_s - source.duration_s) <= frame,
        "max_start_offset_ms": max(abs(f["start_ms"] - script[f["id"]]["start_ms"]) for f in fits),
        "max_stretch": max(f["stretch"] for f in fits),
        "max_speed": max(f["speed"] for f in fits),
        "overflow_lines": sum(f["overflow_ms"] > 0 for f in fits),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--media", type=Path, default=REPO.parent / "shared" / "media")
    parser.add_argument("--to", default="es")
    parser.add_argument("--minutes", type=float, default=2.0)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out")
    parser.add_argument("--lipsync", action="store_true", help="include lip-sync (the spine's figures are without)")
    parser.add_argument("--qa", action="store_true", help="include the review report")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    episode = build_episode(args.media, args.out / f"episode-{args.minutes:g}min-720p.mp4", args.minutes * 60)
    duration = media.probe(episode).duration_s
    cache = args.out / "cache"
    subprocess.run(["rm", "-rf", str(cache)], check=True)
    cold, cold_wall, peak_mb = run_dub(episode, args, cache)
    warm, warm_wall, _ = run_dub(episode, args, cache)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    interpreter = time.perf_counter() - started
    report = {
        "episode": str(episode),
        "duration_s": round(duration, 2),
        "stages_s": {name: s["seconds"] for name, s in cold["stages"].items()},
        "total_s": round(cold_wall, 2),
        "rtf": round(cold_wall / duration, 3),
        "peak_rss_mb": round(peak_mb),
        "lines": cold["lines"],
        "rerun_s": round(warm_wall, 3),
        "rerun_beyond_interpreter_s": round(warm_wall - interpreter, 3),
        "rerun_all_cached": all(s["cached"] or s["skipped"] for s in warm["stages"].values()),
        "timing": check_timing(cold, episode),
    }
    if args.lipsync and "lipsync" in cold["stages"]:
        frames = duration * (media.probe(episode).fps or 25.0)
        report["lipsync_frames_per_s"] = round(frames / max(cold["stages"]["lipsync"]["seconds"], 1e-6), 1)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
