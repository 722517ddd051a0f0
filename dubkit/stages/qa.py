"""QA: the dub reviewed after render — `dubkit.qa.review` on the rendered episode, cached like any stage."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from types import ModuleType

from dubkit import languages, media
from dubkit.job import Artefact, Job
from dubkit.qa import heard, html, plots, report, review, samples, wer
from dubkit.stages import lipsync, render
from dubkit.stages.base import Context
from dubkit.subtitles import layout

NAME = "qa"
VERSION = 1  # bump when a change here changes the bytes of a cache entry (see dubkit.cache)


def run(job: Job, ctx: Context) -> Job:
    config = ctx.preset.qa
    if not config.enabled or "render" not in job.artefacts or job.script is None:
        return job
    transcribe = ctx.preset.transcribe
    transcriber = ctx.backends.get("asr", transcribe.backend, transcribe.options)
    options = {
        **dataclasses.asdict(config),
        "loudness": dataclasses.asdict(ctx.preset.render.loudness),
    }
    key = ctx.cache.key(
        NAME,
        transcriber.fingerprint(),
        options,
        {"ingest": job.key("ingest"), "render": job.key("render"), "script": job.script.to_json()},
        code=(sys.modules[__name__], *_review_code(), *lipsync.ANALYSIS_CODE),
    )

    def build(work: Path) -> None:
        assert job.script is not None
        stem = f"{job.episode.media.stem}.{languages.canonical(job.episode.target)}"
        dubbed = render.delivered(job.entry(render.NAME))
        names = (job.episode.media.name, f"{stem}{dubbed.suffix}", f"{stem}.script.json")
        fits = {line.id: line for line in job.lines}
        target = ctx.preset.render.loudness
        faces = lipsync.source_faces(job, ctx) if media.probe(job.episode.media).has_video else None
        cues = layout.Report.from_dict(json.loads((job.entry(render.NAME) / "subtitles.json").read_text()))
        review.review(
            job.episode.media, dubbed, job.script, fits, config, target, transcriber, work, names, faces, cues
        )

    entry, cached = ctx.cache.entry(key, build)
    return job.with_artefact(NAME, Artefact(key.digest, entry, cached))


def _review_code() -> tuple[ModuleType, ...]:
    """The modules that write a review folder (the loudness meter, and scipy with it, only now imported)."""
    from dubkit.qa import loudness

    return (review, report, html, heard, loudness, plots, samples, wer, layout)
