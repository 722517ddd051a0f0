"""A realistic `dubkit qa` report (see `dubkit/qa/report.schema.json`) for tests of what reads one.

`example_report(lines)` is deterministic: three speakers taking turns; a clean line whose texts hold HTML
metacharacters, lines flagged for WER + start shift, sync offset + confidence, stretch + overflow + duration, a
silent line, a clean line with no face in view, cycling when more lines are asked for; an episode-level true-peak
flag; waveform and mouth plots of a few hundred points that follow the lines. Flags follow the thresholds the way
`dubkit.qa.report.line_flags` sets them (planned start = the source line's start), and each sync measure carries
its own the way `dubkit.qa.report.flag_syncs` adds them.
"""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "dubkit" / "qa" / "report.schema.json"

THRESHOLDS: dict[str, Any] = {
    "max_offset_frames": 2.0,
    "min_confidence": 0.25,
    "max_wer": 0.25,
    "max_stretch": 1.25,
    "max_duration_ratio": 1.4,
    "max_start_shift_ms": 250,
    "max_overflow_ms": 120,
    "loudness_tolerance_lu": 1.0,
    "max_true_peak_dbtp": -1.0,
    "target_lufs": -23.0,
    "max_duration_diff_s": 0.1,
    "max_ocr_asr_cer": 0.5,
}

SPEAKERS = ("ANNA", "BEN", "NARRATOR")

# (source text, translation, heard, wer, flags, kind): one per pattern; kinds drive the measurements below.
PATTERNS: tuple[tuple[str, str, str, float, list[str], str], ...] = (
    (
        'Tom & Jerry\'s "big" day <starts> now.',
        'El "gran" día de Tom & Jerry <empieza> ahora.',
        "El gran día de Tom y Jerry empieza ahora.",
        0.125,
        [],
        "clean",
    ),
    (
        "I told you, the keys were on the table.",
        "Te lo dije, las llaves estaban en la mesa.",
        "Te lo dije, las naves estaban en la misa.",
        0.375,
        ["wer", "start_shift"],
        "wer",
    ),
    (
        "Meanwhile, across the city, the storm kept growing.",
        "Mientras tanto, al otro lado de la ciudad, la tormenta seguía creciendo.",
        "Mientras tanto, al otro lado de la ciudad, la tormenta seguía creciendo.",
        0.0,
        [],
        "no_face",
    ),
    (
        "No way.",
        "Ni hablar.",
        "Ni hablar.",
        0.0,
        ["sync_offset", "sync_confidence"],
        "sync",
    ),
    (
        "We have to leave before the bridge closes, right now, no arguments.",
        "Tenemos que irnos antes de que cierren el puente, ahora mismo, sin discusiones.",
        "Tenemos que irnos antes de que cierren el puente, ahora mismo, sin discusiones.",
        0.0,
        ["stretch", "overflow", "duration"],
        "stretched",
    ),
    ("Hello?", "¿Hola?", "", 1.0, ["silent"], "silent"),
    ("Where were you last night?", "¿Dónde estabas anoche?", "¿Dónde estabas anoche?", 0.0, [], "clean"),
)

FPS = 25.0


def example_report(lines: int = 6) -> dict[str, Any]:
    """A report with *lines* lines (0 is allowed) that validates against the schema."""
    rng = random.Random(1234)
    built = []
    cursor_ms = 1200
    for index in range(lines):
        line, cursor_ms = example_line(index, cursor_ms, rng)
        built.append(line)
    duration_s = round(cursor_ms / 1000 + 2.0, 3)
    flagged = sum(1 for line in built if line["flags"])
    report = {
        "schema": "dubkit-qa-report/5",
        "original": "episodes/s01e03 The Storm.mp4",
        "dubbed": "dubbed/s01e03 The Storm.es.mp4",
        "script": "dubbed/s01e03 The Storm.es.script.json",
        "languages": {"source": "en", "target": "es"},
        "thresholds": dict(THRESHOLDS),
        "episode": {
            "fps": 25.0,
            "duration": {
                "original_s": duration_s,
                "video_s": duration_s,
                "audio_s": round(duration_s + 0.021, 3),
                "ok": True,
                "video_ok": True,
                "audio_ok": True,
            },
            "loudness": {"integrated_lufs": -23.4, "loudness_range_lu": 7.8, "true_peak_dbtp": -0.6, "ok": False},
            "sync": {
                "before": {"offset_frames": 3.4, "confidence": 0.21},
                "after": {"offset_frames": 0.4, "confidence": 0.52},
            },
            "lines": {"total": len(built), "flagged": flagged},
            "flags": ["true_peak"],
        },
        "shots": example_shots(duration_s),
        "lines": built,
        "plots": {"waveform": waveform_plot(built, duration_s, rng), "mouth": mouth_plot(built, duration_s, rng)},
        "samples": {
            "clips": [{"line": line["id"], "path": line["sample"]} for line in built if line["sample"]],
            "side_by_side": "samples/s01e03 side-by-side.mp4",
        },
    }
    pairs = [line["sync"] for line in built] + [shot["sync"] for shot in report["shots"]] + [report["episode"]["sync"]]
    for sync in (sync for pair in pairs for sync in pair.values() if sync is not None):
        sync["flags"] = sync_flags(sync)
    return report


def sync_flags(sync: dict[str, Any]) -> list[str]:
    """The sync bounds of THRESHOLDS that *sync* breaks."""
    offset = ["sync_offset"] * (abs(sync["offset_frames"]) > THRESHOLDS["max_offset_frames"])
    return offset + ["sync_confidence"] * (sync["confidence"] < THRESHOLDS["min_confidence"])


def example_shots(duration_s: float) -> list[dict[str, Any]]:
    """Three shots: the first re-synced well, the second barely, the third too short to measure."""
    cuts = [0.0, round(duration_s * 0.45, 3), round(duration_s - 0.6, 3), duration_s]
    syncs = [
        ({"offset_frames": 2.6, "confidence": 0.24}, {"offset_frames": 0.2, "confidence": 0.81}),
        ({"offset_frames": -4.1, "confidence": 0.12}, {"offset_frames": 1.8, "confidence": 0.19}),
        (None, None),
    ]
    return [
        {"index": i, "start_s": cuts[i], "end_s": cuts[i + 1], "sync": {"before": before, "after": after}}
        for i, (before, after) in enumerate(syncs)
    ]


def example_line(index: int, start_ms: int, rng: random.Random) -> tuple[dict[str, Any], int]:
    """Line *index* starting at *start_ms*, and where the next one starts."""
    text, translation, heard, wer, flags, kind = PATTERNS[index % len(PATTERNS)]
    words = len(text.split())
    length_ms = 500 + 280 * words
    original = {"start_ms": start_ms, "end_ms": start_ms + length_ms}
    stretch, speed, overflow, ratio = 1.0 + rng.uniform(-0.06, 0.08), 1.0, 0, 0.0
    shift = rng.randint(-60, 90)
    if kind == "stretched":
        stretch, speed, overflow, shift = 1.34, 1.12, 340, 20
    if kind == "wer":
        shift = 310  # the fit moved it: flagged against the planned start, here the source line's
    dubbed_length = int(length_ms * stretch) + overflow // 2
    dubbed: dict[str, int] | None = {"start_ms": start_ms + shift, "end_ms": start_ms + shift + dubbed_length}
    ratio = round(dubbed_length / length_ms, 3)
    if kind == "stretched":
        ratio = 1.52
    before = {"offset_frames": round(rng.uniform(2.2, 4.0), 2), "confidence": round(rng.uniform(0.15, 0.3), 2)}
    after: dict[str, float] | None = {
        "offset_frames": round(rng.uniform(-0.8, 0.8), 2),
        "confidence": round(rng.uniform(0.35, 0.7), 2),
    }
    if kind == "sync":
        after = {"offset_frames": -3.1, "confidence": 0.12}
    if kind == "no_face":
        before = after = None
    if kind == "silent":
        dubbed, ratio, overflow = None, None, None
        before, after = None, None
    line_id = f"L{index + 1:03d}"
    line = {
        "id": line_id,
        "speaker": SPEAKERS[index % len(SPEAKERS)],
        "text": text,
        "translation": translation,
        "original": original,
        "planned": dict(original),
        "dubbed": dubbed,
        "stretch": round(stretch, 3) if kind != "silent" else None,
        "speed": speed if kind != "silent" else None,
        "overflow_ms": overflow,
        "duration_ratio": ratio,
        "asr": {"text": heard, "wer": wer},
        "sync": {"before": before, "after": after},
        "flags": list(flags),
        "sample": f"samples/{line_id}.mp4" if flags else None,
    }
    next_start = max(original["end_ms"], dubbed["end_ms"] if dubbed else 0) + 600 + rng.randint(0, 1400)
    return line, next_start


def speech_level(t_s: float, spans: list[tuple[float, float]], rng: random.Random) -> float:
    """A syllable-like level inside any span, a low noise floor outside."""
    for start, end in spans:
        if start <= t_s < end:
            syllables = 0.5 + 0.5 * abs(math.sin(2 * math.pi * 2.2 * (t_s - start)))
            return min(1.0, 0.25 + 0.7 * syllables * rng.uniform(0.7, 1.0))
    return rng.uniform(0.01, 0.05)


def spans_s(lines: list[dict[str, Any]], which: str) -> list[tuple[float, float]]:
    return [(line[which]["start_ms"] / 1000, line[which]["end_ms"] / 1000) for line in lines if line[which]]


def waveform_plot(lines: list[dict[str, Any]], duration_s: float, rng: random.Random) -> dict[str, Any]:
    bins = 400
    bin_s = duration_s / bins
    original, dubbed = spans_s(lines, "original"), spans_s(lines, "dubbed")
    return {
        "bin_s": round(bin_s, 6),
        "original": [round(speech_level(i * bin_s, original, rng), 3) for i in range(bins)],
        "dubbed": [round(0.9 * speech_level(i * bin_s, dubbed, rng), 3) for i in range(bins)],
    }


def mouth_plot(lines: list[dict[str, Any]], duration_s: float, rng: random.Random) -> dict[str, Any]:
    """Mouth opening and speech envelope on one grid; the opening is null over the line with no face."""
    points = 300
    step = duration_s / points
    dubbed = spans_s(lines, "dubbed")
    no_face = [
        (line["original"]["start_ms"] / 1000 - 0.4, line["original"]["end_ms"] / 1000 + 0.4)
        for line in lines
        if line["sync"]["after"] is None and line["dubbed"] is not None
    ]
    times, opening, envelope = [], [], []
    for i in range(points):
        t = round(i * step, 3)
        level = speech_level(t, dubbed, rng)
        times.append(t)
        envelope.append(round(level, 3))
        hidden = any(start <= t < end for start, end in no_face)
        opening.append(None if hidden else round(min(1.0, max(0.0, level * 0.85 + rng.uniform(-0.08, 0.08))), 3))
    return {"times_s": times, "opening": opening, "envelope": envelope}
