"""Lip-sync: the speaking face of each dubbed line re-animated to the dub; the rest of the picture untouched.

The picture is analysed once per source (shots, face tracks: cached as JSON). Each line's speaker is
the track whose mouth follows the *original* speech best in that line's span; that track's mouth is
then re-animated in the line's span (extended to where the dubbed line ends) to follow the dubbed
dialogue. A video without a face, or lines whose speaker is not in the picture, keep their frames.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from dubkit import audio, media
from dubkit.job import Artefact, Job, LineFit
from dubkit.lipsync import tracks
from dubkit.script import Segment
from dubkit.stages.base import Context

log = logging.getLogger(__name__)

NAME = "lipsync"
RATE = 16000
TAIL_S = 0.2  # the mouth closes in this much time after a line


class LipSyncer(Protocol):
    def lipsync(
        self, video: Path, audio: np.ndarray, rate: int, analysis: tracks.Analysis, windows: tracks.Windows, out: Path
    ) -> Path: ...

    def fingerprint(self) -> dict[str, str]: ...


def run(job: Job, ctx: Context) -> Job:
    config = ctx.preset.lipsync
    if not config.enabled or not media.probe(job.episode.media).has_video:
        return job
    windows = _windows(job, ctx)
    if not windows:
        log.info("%s: no speaking face in the picture: lip-sync skipped", job.episode.media)
        return job
    backend: LipSyncer = ctx.backends.get("lipsync", config.backend, config.options)
    key = ctx.cache.key(
        NAME,
        backend.fingerprint(),
        {"backend": config.backend, **config.options},
        {"ingest": job.key("ingest"), "dialogue": job.key("synthesize"), "windows": _jsonable(windows)},
    )
    entry = ctx.cache.lookup(key)
    cached = entry is not None
    if entry is None:
        dialogue, rate = audio.read_wav(job.entry("synthesize") / "dialogue.wav")
        dub = audio.resample(audio.to_mono(dialogue), rate, RATE)
        with ctx.cache.publish(key) as work:
            backend.lipsync(job.episode.media, dub, RATE, _analysis(job, ctx), windows, work / "video.mp4")
        entry = ctx.cache.path(key)
    return job.with_artefact(NAME, Artefact(key.digest, entry, cached))


def speaking_windows(
    analysis: tracks.Analysis, segments: Sequence[Segment], lines: Sequence[LineFit], speech: np.ndarray, rate: int
) -> dict[int, list[tuple[float, float]]]:
    """Track id → the spans (s) it speaks in: each line's span, to the dubbed line's end, plus a short tail."""
    dubbed_end = {line.id: line.end_ms for line in lines}
    windows: dict[int, list[tuple[float, float]]] = {}
    for segment in segments:
        found = tracks.active_speaker(analysis, speech, rate, segment.start_ms / 1000, segment.end_ms / 1000)
        if found is None:
            continue
        end_ms = max(segment.end_ms, dubbed_end.get(segment.id, segment.end_ms))
        windows.setdefault(found[0].id, []).append((segment.start_ms / 1000, end_ms / 1000 + TAIL_S))
    return windows


def _windows(job: Job, ctx: Context) -> dict[int, list[tuple[float, float]]]:
    """Who speaks when, cached per source and line spans (a re-run reads a few bytes, not the analysis)."""
    assert job.script is not None
    spans = [(s.id, s.start_ms, s.end_ms) for s in job.script.segments]
    key = ctx.cache.key(
        "speakers",
        {"analysis": tracks.__name__},
        {"tail_s": TAIL_S},
        {"ingest": job.key("ingest"), "lines": spans, "dubbed": [(x.id, x.end_ms) for x in job.lines]},
    )
    entry = ctx.cache.lookup(key)
    if entry is None:
        speech, rate = audio.read_wav(job.entry("ingest") / "speech.wav")
        found = speaking_windows(_analysis(job, ctx), job.script.segments, job.lines, audio.to_mono(speech), rate)
        with ctx.cache.publish(key) as work:
            (work / "windows.json").write_text(_jsonable(found))
        entry = ctx.cache.path(key)
    saved = json.loads((entry / "windows.json").read_text())  # rounded to the ms, hit or miss alike
    return {int(track): [(start, end) for start, end in spans] for track, spans in saved.items()}


def _analysis(job: Job, ctx: Context) -> tracks.Analysis:
    """Shots and face tracks of the source, cached per source."""
    key = ctx.cache.key(
        "faces", {"analysis": tracks.__name__}, {"max_faces": tracks.MAX_FACES}, {"ingest": job.key("ingest")}
    )
    entry = ctx.cache.lookup(key)
    if entry is None:
        found = tracks.analyse(job.episode.media)
        with ctx.cache.publish(key) as work:
            (work / "analysis.json").write_text(found.to_json())
        return found
    return tracks.Analysis.from_json((entry / "analysis.json").read_text())


def _jsonable(windows: dict[int, list[tuple[float, float]]]) -> str:
    return json.dumps({str(k): [[round(a, 3), round(b, 3)] for a, b in v] for k, v in sorted(windows.items())})
