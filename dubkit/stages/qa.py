"""QA: the dub reviewed after render — `dubkit.qa.review` on the rendered episode, cached like any stage."""

from __future__ import annotations

import dataclasses
import json

from dubkit import languages, media
from dubkit.job import Artefact, Job
from dubkit.qa import report
from dubkit.qa.review import review
from dubkit.stages import lipsync, render
from dubkit.stages.base import Context
from dubkit.subtitles import layout

NAME = "qa"


def run(job: Job, ctx: Context) -> Job:
    config = ctx.preset.qa
    if not config.enabled or "render" not in job.artefacts or job.script is None:
        return job
    transcribe = ctx.preset.transcribe
    transcriber = ctx.backends.get("asr", transcribe.backend, transcribe.options)
    options = {
        **dataclasses.asdict(config),
        "loudness": dataclasses.asdict(ctx.preset.render.loudness),
        "measure": report.SCHEMA,
    }
    key = ctx.cache.key(
        NAME,
        transcriber.fingerprint(),
        options,
        {"ingest": job.key("ingest"), "render": job.key("render"), "script": job.script.to_json()},
    )
    entry = ctx.cache.lookup(key)
    cached = entry is not None
    if entry is None:
        stem = f"{job.episode.media.stem}.{languages.canonical(job.episode.target)}"
        dubbed = render.delivered(job.entry(render.NAME))
        names = (job.episode.media.name, f"{stem}{dubbed.suffix}", f"{stem}.script.json")
        fits = {line.id: line for line in job.lines}
        with ctx.cache.publish(key) as work:
            target = ctx.preset.render.loudness
            faces = lipsync.source_faces(job, ctx) if media.probe(job.episode.media).has_video else None
            cues = layout.Report.from_dict(json.loads((job.entry(render.NAME) / "subtitles.json").read_text()))
            review(job.episode.media, dubbed, job.script, fits, config, target, transcriber, work, names, faces, cues)
        entry = ctx.cache.path(key)
    return job.with_artefact(NAME, Artefact(key.digest, entry, cached))
