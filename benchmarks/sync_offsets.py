"""Sync measure on the real clips: the estimated audio-video offset of each original, and with its sound shifted.

For every clip in ../shared/media/video: frames analysed per second, frames with a face, the estimated
offset (frames and ms; + = sound late) and confidence of the original, and the error of the estimate
when the sound is shifted by +200 ms and -120 ms (estimate minus the clip's own estimate minus the shift).

    .venv/bin/python benchmarks/sync_offsets.py [--media ../shared/media] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dubkit import media  # noqa: E402
from dubkit.lipsync.faces import mouth_track  # noqa: E402
from dubkit.qa.sync import estimate  # noqa: E402

RATE = 16000
SHIFTS_MS = (200, -120)


def shifted(audio: np.ndarray, shift_ms: int) -> np.ndarray:
    samples = int(RATE * shift_ms / 1000)
    return np.concatenate([np.zeros(samples, np.float32), audio]) if samples > 0 else audio[-samples:]


def measure(clip: Path) -> dict:
    started = time.perf_counter()
    track = mouth_track(clip)
    seconds = time.perf_counter() - started
    audio = media.decode_audio(clip, RATE, 1).reshape(-1)
    row = {"clip": clip.name, "frames/s": round(len(track.times_s) / seconds, 1), "face frames": track.face_frames}
    original = estimate(track, audio, RATE)
    if original is None:
        return {**row, "offset": None}
    row.update(
        offset_frames=round(original.offset_frames, 2),
        offset_ms=round(original.offset_ms, 1),
        confidence=round(original.confidence, 2),
    )
    for shift in SHIFTS_MS:
        moved = estimate(track, shifted(audio, shift), RATE)
        error = moved.offset_frames - original.offset_frames - shift * moved.fps / 1000 if moved else None
        row[f"error {shift:+d} ms (frames)"] = round(error, 2) if error is not None else None
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--media", type=Path, default=REPO.parent / "shared" / "media")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    clips = sorted(p for p in (args.media / "video").glob("*/*") if p.suffix in (".mpg", ".mp4"))
    if not clips:
        sys.exit(f"no clips under {args.media / 'video'}")
    rows = [measure(clip) for clip in clips]
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    for row in rows:
        print("  ".join(f"{key}={value}" for key, value in row.items()))


if __name__ == "__main__":
    main()
