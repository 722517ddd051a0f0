"""Hardsubs stage: subtitles burned into the source picture, found and read (`dubkit.hardsubs`).

The scan samples a few frames per second for a band of centred text that changes with the speech (a cache entry
per source); where it finds one, the band is read into timed cues by the `ocr_*` backend, once per run of
unchanged text (a second entry, per source and reader). Transcribe then takes the cues' text as the script's, and
the lip-sync stage erases or replaces them in the picture. A source with no picture, or no such band, passes
through: nothing downstream changes.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
from pathlib import Path

from dubkit import hardsubs, media
from dubkit.errors import BackendUnavailable
from dubkit.hardsubs import band as band_module
from dubkit.hardsubs import cues as cues_module
from dubkit.hardsubs.band import Band
from dubkit.hardsubs.cues import Cue
from dubkit.job import Artefact, Job
from dubkit.stages.base import Context

log = logging.getLogger(__name__)

NAME = "hardsubs"
VERSION = 1  # bump when a change here changes the bytes of a cache entry (see dubkit.cache)
FILE = "hardsubs.json"


@dataclasses.dataclass(frozen=True)
class Burned:
    """A source's burned-in subtitles: the band they are drawn in and the cues read from it (none: not read)."""

    band: Band
    cues: tuple[Cue, ...]


def run(job: Job, ctx: Context) -> Job:
    config = ctx.preset.hardsubs
    if not config.scan or not media.probe(job.episode.media).has_video:
        return job
    key = ctx.cache.key("hardsubs-scan", {}, {}, {"ingest": job.key("ingest")}, code=(band_module, media))
    entry, cached = ctx.cache.entry(key, lambda work: _save(work / FILE, hardsubs.find_band(job.episode.media), ()))
    scanned = _load(entry / FILE)
    if scanned is None or not config.read and config.mode == "keep":
        return job.with_artefact(NAME, Artefact(key.digest, entry, cached, {"cues": 0}))
    try:
        reader = ctx.backends.get("ocr", config.backend, config.options)
    except BackendUnavailable as exc:
        log.warning("%s: subtitles are burned into the picture but cannot be read: %s", job.episode.media, exc)
        return job.with_artefact(NAME, Artefact(key.digest, entry, cached, {"cues": 0}))
    read_key = ctx.cache.key(
        NAME, reader.fingerprint(), {}, {"scan": key.digest}, code=(sys.modules[__name__], cues_module, media)
    )
    found = scanned.band

    def build(work: Path) -> None:
        _save(work / FILE, found, tuple(hardsubs.read_cues(job.episode.media, found, reader)))

    entry, cached = ctx.cache.entry(read_key, build)
    burned = _load(entry / FILE)
    counts = {"cues": len(burned.cues) if burned else 0}
    return job.with_artefact(NAME, Artefact(read_key.digest, entry, cached, counts))


def load(job: Job) -> Burned | None:
    """The episode's burned-in subtitles (band and cues), or None where the stage found none or did not run."""
    return _load(job.entry(NAME) / FILE) if NAME in job.artefacts else None


def _save(path: Path, band: Band | None, cues: tuple[Cue, ...]) -> None:
    data = {
        "band": dataclasses.asdict(band) if band else None,
        "cues": [dataclasses.asdict(cue) for cue in cues],
    }
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True), encoding="utf-8")


def _load(path: Path) -> Burned | None:
    data = json.loads(path.read_text(encoding="utf-8"))
    if data["band"] is None:
        return None
    cues = tuple(Cue(**{**cue, "box": tuple(cue.get("box", (0, 0, 0, 0)))}) for cue in data["cues"])
    return Burned(Band(**data["band"]), cues)
