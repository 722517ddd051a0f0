"""Dub one episode stage by stage, then publish its files into the output directory."""

from __future__ import annotations

import dataclasses
import shutil
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dubkit import languages
from dubkit.cache import Cache, Key, sha256_file
from dubkit.casting import cast
from dubkit.config import Preset, load_preset
from dubkit.errors import ConfigError, DubkitError, describe
from dubkit.fsutil import atomic_path, copy_tree_atomic
from dubkit.job import Episode, Job
from dubkit.script import formats
from dubkit.stages import hardsubs, ingest, lipsync, qa, render, synthesize, transcribe, translate
from dubkit.stages.base import Backends, Context, Progress, _no_progress

STAGES = (ingest, hardsubs, transcribe, translate, synthesize, lipsync, render, qa)
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
            "output": _str(self.outputs.get("video") or self.outputs.get("matroska")),
            "matroska": _str(self.outputs.get("matroska")),
            "stems": _str(self.outputs.get("stems")),
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
                "cut": sum(line.cut_ms > 0 for line in lines),
                "shorter_version": sum(line.version > 1 for line in lines),  # spoken a shorter version than v1
            },
            "fits": [dataclasses.asdict(line) for line in lines],
            "glossary": self.job.glossary.summary() if self.job.glossary else None,
            "cast": _cast(self.job),
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
    episode = _with_script_base(_checked(episode), Path(outdir))
    stages = _stages_until(until)
    preset = preset if isinstance(preset, Preset) else load_preset(preset)
    ctx = Context(cache or Cache(), preset, Backends(origin=str(preset.path)), progress)
    translate.load_glossary(ctx, episode.target)  # a bad glossary file fails before any work is done
    job, reports = Job(episode), {}
    try:
        for stage in stages:
            job, reports[stage.NAME] = run_stage(stage, job, ctx)
            ctx.backends.close()  # each stage's models are its own: free them before the next stage loads
            _release_memory()
    finally:
        ctx.backends.close()
    return Result(job, reports, publish(job, Path(outdir)))


@dataclass(frozen=True)
class Request:
    """One episode into one language, with its preset and the folder its files are published into."""

    episode: Episode
    preset: Preset
    outdir: Path


@dataclass(frozen=True)
class Outcome:
    """What became of request `index` of a `dub_many`: its result, or the one-line reason it failed and whether
    trying again could help (not for a dubkit error: a bad input, a missing model, no speech)."""

    index: int
    result: Result | None = None
    error: str | None = None
    permanent: bool = False

    @classmethod
    def failure(cls, index: int, exc: BaseException) -> Outcome:
        return cls(index, error=describe(exc), permanent=isinstance(exc, DubkitError))


StageDone = Callable[[int, str, StageReport, Job], None]


def dub_many(
    requests: Sequence[Request], *, cache: Cache, on_stage: StageDone | None = None, progress: Progress = _no_progress
) -> Iterator[Outcome]:
    """Dub many episodes stage-major: each stage runs for every episode, its models loaded once, then freed
    before the next stage loads its own. A request that fails is yielded at once and drops out; the others go on.
    `on_stage(index, stage, report, job)` is called as each episode finishes each stage."""
    pool: dict[str, Any] = {}  # one pool: a model two presets share is loaded once
    contexts = [Context(cache, r.preset, Backends(str(r.preset.path), pool), progress) for r in requests]
    backends = Backends("batch", pool)
    jobs: dict[int, Job] = {}
    reports: dict[int, dict[str, StageReport]] = {}
    for index, request in enumerate(requests):
        try:
            jobs[index], reports[index] = prepare(request, contexts[index]), {}
        except Exception as exc:  # noqa: BLE001 - one bad request never stops the others
            yield Outcome.failure(index, exc)
    try:
        for stage in STAGES:
            for index in list(jobs):
                try:
                    jobs[index], reports[index][stage.NAME] = run_stage(stage, jobs[index], contexts[index])
                except Exception as exc:  # noqa: BLE001
                    del jobs[index]
                    yield Outcome.failure(index, exc)
                    continue
                if on_stage:
                    on_stage(index, stage.NAME, reports[index][stage.NAME], jobs[index])
            backends.close()
            _release_memory()
        for index, job in jobs.items():
            try:
                yield Outcome(index, Result(job, reports[index], publish(job, requests[index].outdir)))
            except OSError as exc:
                yield Outcome.failure(index, exc)
    finally:
        backends.close()


def prepare(request: Request, ctx: Context) -> Job:
    """The empty job of *request*, once its languages, cast file and glossary are known good."""
    episode = _with_script_base(_checked(request.episode), request.outdir)
    translate.load_glossary(ctx, episode.target)
    return Job(episode)


class WouldCompute(Exception):
    """Raised by a `Lookahead` cache where a stage would compute something."""


class Lookahead(Cache):
    """A cache that answers lookups and refuses to build: stages replayed on it stop at their first miss.

    Every stage reaches the cache through `Cache.entry` / `Cache.entries`, whose builds run only inside
    `publish`: refusing there stops a stage before it computes or writes anything."""

    def publish(self, key: Key) -> Any:
        raise WouldCompute(key.stage)

    def file_digest(self, path: Path) -> str:
        """Hashed afresh, not memoized: a look-ahead writes nothing."""
        return sha256_file(path)


def plan(request: Request, cache: Cache) -> dict[str, str]:
    """Per stage 'hit', 'miss' or 'skipped', without running anything: the stages are replayed from the cache up
    to the first that would compute; it and every later stage are misses."""
    ctx = Context(Lookahead(cache.root), request.preset, Backends(str(request.preset.path)))
    found: dict[str, str] = {}
    try:
        job = prepare(request, ctx)
        for index, stage in enumerate(STAGES):
            try:
                job, report = run_stage(stage, job, ctx)
            except WouldCompute:
                return found | dict.fromkeys((s.NAME for s in STAGES[index:]), "miss")
            found[stage.NAME] = "skipped" if report.skipped else "hit"
    finally:
        ctx.backends.close()
    return found


def run_stage(stage: Any, job: Job, ctx: Context) -> tuple[Job, StageReport]:
    """Run one stage of one job: the job it returns, and whether the stage was cached, skipped, how long."""
    started = time.perf_counter()
    job = stage.run(job, ctx)
    seconds = time.perf_counter() - started
    artefact = job.artefacts.get(stage.NAME)
    if artefact is None:
        return job, StageReport(False, seconds, True)
    return job, StageReport(artefact.cached, seconds, counts=artefact.counts)


def publish(job: Job, outdir: Path) -> dict[str, Path]:
    """Copy the finished files into *outdir*, each atomically: `<stem>.<lang>.{script.json,srt,mp4,mkv}`, the
    stems folder `<stem>.<lang>.stems/` and the review folder `<stem>.<lang>.qa/`."""
    if job.script is None:
        return {}
    stem = f"{job.episode.media.stem}.{languages.canonical(job.episode.target)}"
    outputs = {"script": outdir / f"{stem}.script.json"}
    job.script.save(outputs["script"])
    if render.NAME in job.artefacts:
        entry = job.entry(render.NAME)
        outputs["subtitles"] = _copy(entry / "dub.srt", outdir / f"{stem}.srt")
        for name, container in (("video", "mp4"), ("matroska", "mkv")):
            if (entry / f"dub.{container}").is_file():
                outputs[name] = _copy(entry / f"dub.{container}", outdir / f"{stem}.{container}")
        if (entry / "stems").is_dir():
            outputs["stems"] = copy_tree_atomic(entry / "stems", outdir / f"{stem}.stems")
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
    if episode.cast_file is not None:
        cast.load(episode.cast_file)  # a bad cast file fails now, not after transcription
    return episode


def _with_script_base(episode: Episode, outdir: Path) -> Episode:
    """An edited subtitle / CSV script is merged onto a script.json: the one given, else `<name>.script.json`
    beside it, else the episode's published `<stem>.<lang>.script.json` beside it or in *outdir*."""
    if episode.script is None or episode.script_base is not None:
        return episode
    if formats.edited_format(episode.script) == "json":
        return episode
    published = f"{episode.media.stem}.{languages.canonical(episode.target)}.script.json"
    base = formats.find_base(episode.script, (episode.script.parent / published, outdir / published))
    return dataclasses.replace(episode, script_base=base)


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


def _release_memory() -> None:
    """Hand what the stage freed back to the system (glibc keeps freed heap otherwise), so the episode's peak
    memory is its largest stage's, not the sum of what every stage once held."""
    import contextlib
    import ctypes
    import gc

    gc.collect()
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to trim
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _str(path: Path | None) -> str | None:
    return str(path) if path else None


def _cast(job: Job) -> dict[str, str]:
    """Speaker → the voice of most of its lines (once synthesis has chosen them), in order of first appearance."""
    segments = job.script.segments if job.script else ()
    voices: dict[str, list[str]] = {}
    for segment in segments:
        if segment.voice:
            voices.setdefault(segment.speaker, []).append(segment.voice)
    return {speaker: max(set(names), key=lambda n: (names.count(n), n)) for speaker, names in voices.items()}
