"""Dub one episode stage by stage, then publish its files into the output directory."""

from __future__ import annotations

import dataclasses
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dubkit import languages
from dubkit.cache import Cache
from dubkit.config import Preset, load_preset
from dubkit.errors import ConfigError
from dubkit.fsutil import atomic_path, copy_tree_atomic
from dubkit.job import Episode, Job
from dubkit.stages import ingest, lipsync, qa, render, synthesize, transcribe, translate
from dubkit.stages.base import Backends, Context, Progress, _no_progress

STAGES = (ingest, transcribe, translate, synthesize, lipsync, render, qa)
STAGE_NAMES = tuple(stage.NAME for stage in STAGES)


@dataclass(frozen=True)
class StageReport:
    """`skipped`: the stage had nothing to do (no speaking face to re-sync, a script given instead of speech)."""

    cached: bool
    seconds: float
    skipped: bool = False
    counts: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Result:
    job: Job
    stages: Mapping[str, StageReport]
    outputs: Mapping[str, Path] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """The `--json` document: outputs, per-stage cache use and seconds, line counts."""
        lines = self.job.lines
        synthesized = sum(line.synthesized for line in lines)
        return {
            "output": _str(self.outputs.get("video")),
            "subtitles": _str(self.outputs.get("subtitles")),
            "script": _str(self.outputs.get("script")),
            "report": _str(self.outputs.get("report")),
            "stages": {
                name: {"cached": r.cached, "seconds": round(r.seconds, 3), "skipped": r.skipped}
                | ({"counts": dict(r.counts)} if r.counts else {})
                for name, r in self.stages.items()
            },
            "lines": {
                "total": len(self.job.script.segments) if self.job.script else 0,
                "synthesized": synthesized,
                "cached": len(lines) - synthesized,
                "overflow": sum(line.overflow for line in lines),
            },
            "fits": [dataclasses.asdict(line) for line in lines],
        }


def dub(
    episode: Episode,
    *,
    preset: Preset | str | None = None,
    cache: Cache | None = None,
    outdir: Path = Path("dubbed"),
    until: str | None = None,
    progress: Progress = _no_progress,
) -> Result:
    """Run the stages up to *until* (default: all) and publish the results into *outdir*."""
    episode = _checked(episode)
    stages = _stages_until(until)
    preset = preset if isinstance(preset, Preset) else load_preset(preset)
    ctx = Context(cache or Cache(), preset, Backends(origin=str(preset.path)), progress)
    job, reports = Job(episode), {}
    try:
        for stage in stages:
            started = time.perf_counter()
            job = stage.run(job, ctx)
            ctx.backends.close()  # each stage's models are its own: free them before the next stage loads
            artefact = job.artefacts.get(stage.NAME)
            seconds = time.perf_counter() - started
            reports[stage.NAME] = (
                StageReport(artefact.cached, seconds, counts=artefact.counts)
                if artefact
                else StageReport(False, seconds, True)
            )
    finally:
        ctx.backends.close()
    return Result(job, reports, publish(job, Path(outdir)))


def publish(job: Job, outdir: Path) -> dict[str, Path]:
    """Copy the finished files into *outdir*, each atomically: `<stem>.<lang>.{script.json,srt,mp4}` and the
    review folder `<stem>.<lang>.qa/`."""
    if job.script is None:
        return {}
    stem = f"{job.episode.media.stem}.{languages.canonical(job.episode.target)}"
    outputs = {"script": outdir / f"{stem}.script.json"}
    job.script.save(outputs["script"])
    if render.NAME in job.artefacts:
        outputs["subtitles"] = _copy(job.entry(render.NAME) / "dub.srt", outdir / f"{stem}.srt")
        outputs["video"] = _copy(job.entry(render.NAME) / "dub.mp4", outdir / f"{stem}.mp4")
    if qa.NAME in job.artefacts:
        folder = copy_tree_atomic(job.entry(qa.NAME), outdir / f"{stem}.qa", ignore=("meta.json",))
        outputs["report"] = folder / "report.html"
    return outputs


def _checked(episode: Episode) -> Episode:
    """Fail fast, naming the input, on a language code nobody can dub."""
    try:
        languages.canonical(episode.target)
        if episode.source:
            languages.canonical(episode.source)
    except ConfigError as exc:
        raise ConfigError(f"{episode.media}: {exc}") from None
    return episode


def _stages_until(until: str | None) -> tuple:
    if until is None:
        return STAGES
    if until not in STAGE_NAMES:
        raise ConfigError(f"--until {until!r}: expected one of {', '.join(STAGE_NAMES)}")
    return STAGES[: STAGE_NAMES.index(until) + 1]


def _copy(source: Path, target: Path) -> Path:
    with atomic_path(target) as tmp:
        shutil.copyfile(source, tmp)
    return target


def _str(path: Path | None) -> str | None:
    return str(path) if path else None
