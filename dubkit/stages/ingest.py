"""Ingest: probe the media, extract a 16 kHz mono speech track and keep the original soundtrack for the bed."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

from dubkit import media
from dubkit.errors import MediaError
from dubkit.job import Artefact, Job
from dubkit.stages.base import Context

NAME = "ingest"
VERSION = 1  # bump when a change here changes the bytes of a cache entry (see dubkit.cache)
SPEECH_RATE = 16000
ORIGINAL_RATE = 48000


def run(job: Job, ctx: Context) -> Job:
    source = job.episode.media
    if not source.is_file():
        raise MediaError(source, "no such file")
    key = ctx.cache.key(
        NAME,
        {},
        {"speech_rate": SPEECH_RATE, "original_rate": ORIGINAL_RATE},
        {"media": ctx.cache.file_digest(source)},
        code=(sys.modules[__name__], media),
    )

    def build(work: Path) -> None:
        info = media.probe(source)
        if not info.has_audio:
            raise MediaError(source, "no audio stream")
        media.extract_audio(source, work / "speech.wav", rate=SPEECH_RATE, channels=1)
        media.extract_audio(source, work / "original.wav", rate=ORIGINAL_RATE, channels=min(info.channels or 1, 2))
        (work / "info.json").write_text(json.dumps(dataclasses.asdict(info), default=str, indent=2))

    entry, cached = ctx.cache.entry(key, build)
    info_data = json.loads((entry / "info.json").read_text())
    return job.with_artefact(NAME, Artefact(key.digest, entry, cached), duration_s=float(info_data["duration_s"]))


def info(job: Job) -> dict:
    """The probe of the source, as recorded at ingest."""
    return json.loads((job.entry(NAME) / "info.json").read_text())


def video_start_s(job: Job) -> float:
    """Where the source's picture starts, from the container's start (probed anew for an ingest recorded before
    the probe kept it)."""
    recorded = info(job).get("video_start_s")
    return float(recorded) if recorded is not None else media.probe(job.episode.media).video_start_s
