"""Sync measure on the real clips: the estimated audio-video offset of each original, and with its sound shifted.

For every clip in ../shared/media/video: frames analysed per second, frames with a face, the estimated
offset (frames and ms; + = sound late) and confidence of the original, and the error of the estimate
when the sound is shifted by +200 ms and -120 ms (estimate minus the clip's own estimate minus the shift).
Short windows, as a line is measured: of every 1 s and 2 s window (0.25 s apart, searching +-500 ms as the
review report does), the share whose estimate lies within 1 frame of the clip's own.

`--stills DIR` saves per clip a sheet of the mouth around the sharpest onsets of speech out of silence (a row
each: the frames from 100 ms before to 170 ms after, each labelled with its time from the onset, the middle of
the rise), to compare by eye: on the GRID clips, recorded in sync, closed lips are visibly apart 1 to 2 frames
after the onset.

    .venv/bin/python benchmarks/sync_offsets.py [--media ../shared/media] [--json] [--stills benchmarks/out/sync]
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
from dubkit.lipsync.faces import FaceFinder, mouth_track, native_logs_silenced  # noqa: E402
from dubkit.lipsync.sync import estimate, speech_envelope  # noqa: E402

RATE = 16000
SHIFTS_MS = (200, -120)
WINDOWS_S = (1.0, 2.0)
LINE_MAX_LAG_MS = 500.0  # as dubkit.qa.report measures a line


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
    for window in WINDOWS_S:
        row[f"{window:g} s windows within 1 frame"] = windows_agreeing(track, audio, window, original.offset_frames)
    return row


def windows_agreeing(track, audio: np.ndarray, window_s: float, offset: float) -> str:  # noqa: ANN001
    """'share (count)' of the windows of *window_s* whose estimate is within 1 frame of *offset*."""
    last = float(track.times_s[-1])
    found = [
        estimate(track, audio, RATE, start, start + window_s, LINE_MAX_LAG_MS)
        for start in np.arange(float(track.times_s[0]), last - window_s, 0.25)
    ]
    errors = [abs(e.offset_frames - offset) for e in found if e is not None]
    return f"{np.mean(np.array(errors) <= 1.0):.2f} ({len(errors)})" if errors else "-"


def onsets(audio: np.ndarray, count: int = 3, apart_s: float = 0.3) -> list[float]:
    """Times of the sharpest rises of the speech band after at least 40 ms of near silence."""
    step = 0.005
    times = np.arange(0.0, len(audio) / RATE, step)
    level = 20 * np.log10(speech_envelope(audio, RATE, times, window_ms=10.0) + 1e-7)
    quiet = np.quantile(level, 0.95) - 25.0
    found = []
    for j in range(8, len(level) - 4):
        rise = level[j + 4] - level[j]
        if rise >= 15.0 and level[j - 8 : j + 1].max() <= quiet:
            half = j + int(np.argmax(level[j : j + 5] >= level[j] + rise / 2))
            found.append((rise, times[half]))
    chosen: list[float] = []
    for _, time_s in sorted(found, reverse=True):
        if all(abs(time_s - other) >= apart_s for other in chosen):
            chosen.append(float(time_s))
    return sorted(chosen[:count])


def mouth_sheet(clip: Path, audio: np.ndarray, out: Path, before_s: float = 0.1, after_s: float = 0.17) -> Path | None:
    """A row of mouth crops around each onset of `onsets`, labelled in ms from it; None without a face."""
    from PIL import Image, ImageDraw

    moments = onsets(audio)
    rows: dict[float, list[Image.Image]] = {moment: [] for moment in moments}
    with native_logs_silenced(), FaceFinder(1) as finder:
        for frame in media.video_frames(clip, 480):
            faces = finder.faces(frame.rgb)
            near = [m for m in moments if -before_s <= frame.time_s - m <= after_s]
            if faces and near:
                tile = Image.fromarray(mouth_crop(frame.rgb, faces[0].corners)).resize((160, 100))
                ImageDraw.Draw(tile).text((4, 2), f"{1000 * (frame.time_s - near[0]):+.0f} ms", fill=(255, 255, 0))
                rows[near[0]].append(tile)
    rows = {moment: tiles for moment, tiles in rows.items() if tiles}
    if not rows:
        return None
    width = max(len(tiles) for tiles in rows.values())
    sheet = Image.new("RGB", (160 * width, 100 * len(rows)))
    for row, tiles in enumerate(rows.values()):
        for column, tile in enumerate(tiles):
            sheet.paste(tile, (160 * column, 100 * row))
    out.mkdir(parents=True, exist_ok=True)
    sheet.save(out / f"{clip.stem}.png")
    return out / f"{clip.stem}.png"


def mouth_crop(rgb: np.ndarray, corners: np.ndarray) -> np.ndarray:
    """The mouth and a margin around it: corners are (x, y) fractions of the frame."""
    height, width = rgb.shape[:2]
    (x0, y0), (x1, y1) = corners * (width, height)
    span = max(8.0, float(np.hypot(x1 - x0, y1 - y0)))
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    top, bottom = int(max(0, cy - 0.6 * span)), int(min(height, cy + 0.6 * span))
    left, right = int(max(0, cx - span)), int(min(width, cx + span))
    return np.ascontiguousarray(rgb[top:bottom, left:right])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--media", type=Path, default=REPO.parent / "shared" / "media")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--stills", type=Path, help="save a sheet of mouths around speech onsets per clip here")
    args = parser.parse_args()
    clips = sorted(p for p in (args.media / "video").glob("*/*") if p.suffix in (".mpg", ".mp4"))
    if not clips:
        sys.exit(f"no clips under {args.media / 'video'}")
    rows = [measure(clip) for clip in clips]
    if args.stills:
        for row, clip in zip(rows, clips, strict=True):
            row["stills"] = str(mouth_sheet(clip, media.decode_audio(clip, RATE, 1).reshape(-1), args.stills))
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    for row in rows:
        print("  ".join(f"{key}={value}" for key, value in row.items()))


if __name__ == "__main__":
    main()
