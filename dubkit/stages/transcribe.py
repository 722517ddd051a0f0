"""Transcribe: speech → time-stamped lines in the source language, merged into sentences."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Protocol

from dubkit import languages
from dubkit.errors import StageFailed
from dubkit.job import Artefact, Job
from dubkit.script import Segment, Transcript, Word
from dubkit.sentences import merge_sentences
from dubkit.stages.base import Context

NAME = "transcribe"


class Transcriber(Protocol):
    def transcribe(self, audio: Path, language: str | None) -> Transcript: ...

    def fingerprint(self) -> dict[str, str]: ...


def run(job: Job, ctx: Context) -> Job:
    if job.episode.script is not None:  # resuming from an edited script: nothing to transcribe
        return job
    config = ctx.preset.transcribe
    backend = ctx.backends.get("asr", config.backend, config.options)
    forced = languages.canonical(job.episode.source) if job.episode.source else None
    options = {
        "backend": config.backend,
        **config.options,
        "language": forced,
        "sentence_max_ms": config.sentence_max_ms,
        "pause_ms": config.pause_ms,
    }
    key = ctx.cache.key(NAME, backend.fingerprint(), options, {"speech": job.key("ingest")})
    entry = ctx.cache.lookup(key)
    cached = entry is not None
    if entry is None:
        transcript = backend.transcribe(job.entry("ingest") / "speech.wav", forced)
        if not transcript.segments:
            raise StageFailed(f"{job.episode.media}: no speech found")
        lines = merge_sentences(transcript.segments, max_ms=config.sentence_max_ms, pause_ms=config.pause_ms)
        with ctx.cache.publish(key) as work:
            save(work / "transcript.json", dataclasses.replace(transcript, segments=lines))
        entry = ctx.cache.path(key)
    return job.with_artefact(NAME, Artefact(key.digest, entry, cached))


def save(path: Path, transcript: Transcript) -> None:
    path.write_text(json.dumps(dataclasses.asdict(transcript), ensure_ascii=False, indent=2, sort_keys=True))


def load(path: Path) -> Transcript:
    data = json.loads(path.read_text(encoding="utf-8"))
    segments = tuple(Segment(**{**s, "words": tuple(Word(**w) for w in s["words"])}) for s in data["segments"])
    return Transcript(data["language"], segments, data.get("language_probability", 1.0))
