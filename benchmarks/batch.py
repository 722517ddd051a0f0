"""Batch benchmark: a catalog of GRID episodes × languages from ../shared/media, dubbed by `dubkit batch`.

For each executor (cold cache each): wall seconds, items per minute, the report's totals; then the same batch
again (all cached) and a `--dry-run`. Compares the executors' dubs (decoded audio and scripts, which must be
identical) and, with `--baseline`, times `dubkit translate` item by item on a cold cache: what stage-major
(a model loaded once per chunk and stage) saves. The preset is the default without lip-sync and review unless
`--full`.

    .venv/bin/python benchmarks/batch.py [--media ../shared/media] [--episodes 6] [--to es,pt-BR]
        [--executors local,ray] [--workers 2] [--baseline] [--full] [--out benchmarks/out/batch]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dubkit import media  # noqa: E402
from dubkit.data import PIPELINES_DIR  # noqa: E402

GRID = ("bbaf2n", "brbk7n", "lbax4n", "lbbc2a", "lrwp9a", "lwbsza", "pwij3p", "sbia1a", "sbwe5n", "swiz3n")


def main() -> None:
    args = _arguments()
    out = Path(args.out).resolve()
    shutil.rmtree(out, ignore_errors=True)
    catalog = _library(Path(args.media), out / "library", args.episodes, args.full)
    languages = [code for code in args.to.split(",") if code]
    items = args.episodes * len(languages)
    print(f"catalog: {args.episodes} episodes x {len(languages)} languages = {items} items, workers {args.workers}")
    results = {}
    for executor in args.executors.split(","):
        target = out / executor
        cold, report = _batch(catalog, languages, target, executor, args.workers)
        warm, again = _batch(catalog, languages, target, executor, args.workers)
        plan_s = _timed([*_argv(catalog, languages, target, executor, 1), "--dry-run"])[0]
        results[executor] = target / "dubs"
        print(
            f"{executor:>5}: cold {cold:7.1f} s ({items / cold * 60:5.1f} items/min) totals {report['totals']}; "
            f"re-run {warm:5.1f} s totals {again['totals']}; dry-run {plan_s:4.1f} s"
        )
    if len(results) > 1:
        first, *others = results.values()
        for other in others:
            same = _same_dubs(first, other, catalog, languages)
            print(f"identical dubs {first.parent.name} vs {other.parent.name}: {same} / {items}")
    if args.baseline:
        seconds = _baseline(catalog, languages, out / "baseline")
        print(f"baseline: dubkit translate one by one, cold: {seconds:7.1f} s ({items / seconds * 60:5.1f} items/min)")


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--media", default=str(REPO.parent / "shared" / "media"))
    parser.add_argument("--episodes", type=int, default=6)
    parser.add_argument("--to", default="es,pt-BR")
    parser.add_argument("--executors", default="local,ray")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--baseline", action="store_true")
    parser.add_argument("--full", action="store_true", help="with lip-sync and the review report")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "out" / "batch"))
    return parser.parse_args()


def _library(media_root: Path, root: Path, episodes: int, full: bool) -> Path:
    root.mkdir(parents=True)
    preset = (PIPELINES_DIR / "default.toml").read_text(encoding="utf-8")
    if not full:
        preset = preset.replace("[lipsync]\n", "[lipsync]\nenabled = false\n")
        preset = preset.replace("[qa]\n", "[qa]\nenabled = false\n")
    (root / "preset.toml").write_text(preset, encoding="utf-8")
    rows = []
    for clip in GRID[:episodes]:
        shutil.copyfile(media_root / "video" / "grid" / f"{clip}.mpg", root / f"{clip}.mpg")
        rows.append(f"{clip}.mpg,{clip},grid,preset.toml")
    (root / "catalog.csv").write_text("media,episode,series,pipeline\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return root / "catalog.csv"


def _argv(catalog: Path, languages: list[str], target: Path, executor: str, workers: int) -> list[str]:
    return [
        sys.executable, "-m", "dubkit", "batch", str(catalog), "--to", ",".join(languages), "-o", str(target / "dubs"),
        "--cache-dir", str(target / "cache"), "--executor", executor, "--workers", str(workers), "--json",
    ]  # fmt: skip


def _batch(catalog: Path, languages: list[str], target: Path, executor: str, workers: int) -> tuple[float, dict]:
    seconds, done = _timed(_argv(catalog, languages, target, executor, workers))
    if done.returncode not in (0, 1):
        raise SystemExit(f"batch failed: {done.stderr[-2000:]}")
    return seconds, json.loads(done.stdout)


def _timed(argv: list[str]) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True)
    return time.perf_counter() - started, done


def _same_dubs(a: Path, b: Path, catalog: Path, languages: list[str]) -> int:
    same = 0
    for clip in (p.stem for p in catalog.parent.glob("*.mpg")):
        for language in languages:
            name = f"{clip}/{clip}.{language}"
            scripts = (a / f"{name}.script.json").read_bytes() == (b / f"{name}.script.json").read_bytes()
            sound = [media.decode_audio(folder / f"{name}.mp4", 16000, 1) for folder in (a, b)]
            same += scripts and sound[0].shape == sound[1].shape and bool(np.array_equal(*sound))
    return same


def _baseline(catalog: Path, languages: list[str], target: Path) -> float:
    started = time.perf_counter()
    for clip in sorted(catalog.parent.glob("*.mpg")):
        for language in languages:
            argv = [sys.executable, "-m", "dubkit", "translate", str(clip), "--to", language]
            argv += ["-o", str(target / "dubs"), "--cache-dir", str(target / "cache")]
            argv += ["--pipeline", str(catalog.parent / "preset.toml")]
            subprocess.run(argv, capture_output=True, check=True)
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
