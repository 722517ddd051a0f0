"""Translate stage: the whole episode's lines go to one backend at once, for context (or to two chained through
English, when no backend has the pair: dubkit.stages.routes); each line records its route."""

from __future__ import annotations

import dataclasses
import hashlib
import sys
from collections.abc import Sequence
from pathlib import Path

from dubkit import glossary, languages, series
from dubkit.backends import registry
from dubkit.backends.base import TranslationRequest
from dubkit.casting.speakers import gender_of
from dubkit.errors import ConfigError, StageFailed
from dubkit.job import Artefact, Job
from dubkit.script import Script, Segment, formats, isochrony, model
from dubkit.stages import line_memo, routes, transcribe, versions
from dubkit.stages.base import Context

NAME = "translate"
VERSION = 2  # bump when a change here changes the bytes of a cache entry (see dubkit.cache)


def run(job: Job, ctx: Context) -> Job:
    terms = load_glossary(ctx, job.episode.target)
    if job.episode.script is not None:
        return _from_script(job, ctx, terms)
    transcript = transcribe.load(job.entry("transcribe") / "transcript.json")
    source = languages.canonical(job.episode.source or transcript.language)
    target = languages.canonical(job.episode.target)
    if languages.same_language(source, target):
        raise ConfigError(f"{job.episode.media}: source and target language are both {source}")
    route = choose_route(ctx, source, target)
    context = series_context(job, ctx, transcript.segments, target) if route.reader else None
    options = {"route": route.label, "source": source, "target": target}
    key = ctx.cache.key(
        NAME,
        route.fingerprint(),
        options
        | ({"glossary": terms.identity()} if terms else {})
        | ({"series": context.identity()} if context else {})
        | versions.options(ctx),
        {"transcript": job.key("transcribe")},
        code=(sys.modules[__name__], routes, glossary, model, series, versions, isochrony),
    )
    memo = line_memo.CacheMemo(ctx.cache)

    def build(work: Path) -> None:
        segments = transcript.segments
        # Glossary terms become placeholders MT passes through; a reader of context is told the terms instead.
        protected = [glossary.Protected(s.text) if context else terms.protect(s.text) for s in segments]
        request = TranslationRequest(
            texts=tuple(p.text for p in protected),
            source=source,
            target=target,
            spans=tuple((s.start_ms, s.end_ms) for s in segments),
            audio=job.entry("ingest") / "speech.wav",
            ids=tuple(s.id for s in segments),
            speakers=tuple(s.speaker for s in segments),
            context=context,
            memo=memo,
        )
        legs, said = versions.translate(
            route, request, ctx, job.duration_s, lambda i, t: terms.restore(protected[i], t)
        )
        translated = []
        for index, (segment, kept) in enumerate(zip(segments, protected, strict=True)):
            texts = [terms.restore(kept, leg[index]).strip() for leg in legs]
            line = dataclasses.replace(segment, translation=texts[-1], route=route.describe(texts[:-1]))
            translated.append(versions.with_versions(line, said[index]))
        Script(source, target, ()).with_segments(tuple(translated)).save(work / "script.json")

    entry, cached = ctx.cache.entry(key, build)
    script = Script.load(entry / "script.json")
    check_not_empty(script.segments, route.label, entry / "script.json")
    report = terms.report(script.segments) if terms else None
    counts = memo.counts() if route.reader and not cached else {}
    return job.with_artefact(NAME, Artefact(key.digest, entry, cached, counts), script=script, glossary=report)


def check_not_empty(segments: Sequence[Segment], backend: str, script: Path) -> None:
    """StageFailed naming the lines that have words but whose translation has none (empty, or only punctuation):
    dubbed, such a line would be silence where the original speaks.

    The translated *script* stays in the cache, so the message can point at it: a copy with those lines filled in
    dubs the episode (`--script`); another backend has another key and translates afresh.
    """
    empty = [s for s in segments if languages.has_words(s.text) and not languages.has_words(s.translation)]
    if empty:
        named = "; ".join(f"{s.id} at {s.start_ms / 1000:.1f} s {s.text!r}" for s in empty[:5])
        more = f" and {len(empty) - 5} more" if len(empty) > 5 else ""
        raise StageFailed(
            f"translate/{backend} returned no translation for {len(empty)} line(s): {named}{more}. Choose another"
            f" backend, or fill them in a copy of {script} and dub from it with --script"
        )


def load_glossary(ctx: Context, target: str) -> glossary.Glossary:
    """The preset's glossary (`[translate] glossary`, relative to the preset; `--glossary`) for *target*."""
    path = series_path(ctx)
    return glossary.load(path, languages.canonical(target)) if path else glossary.Glossary()


def series_path(ctx: Context) -> Path | None:
    """The series file (the glossary file, `[translate] glossary`, relative to the preset; `--glossary`)."""
    if not ctx.preset.translate.glossary:
        return None
    path = Path(ctx.preset.translate.glossary).expanduser()
    return path if path.is_absolute() else ctx.preset.path.parent / path


def series_context(job: Job, ctx: Context, segments: Sequence[Segment], target: str) -> series.SeriesContext:
    """What a translator that reads context is told of the series: the series file for *target*, and the gender
    of each speaker it leaves without one, from the median pitch of their lines (as synthesize casts voices)."""
    context = series.load(series_path(ctx), target)
    speech = job.entry("ingest") / "speech.wav"
    genders = {
        speaker: gender_of(transcribe.speaker_pitch(speech, [s for s in segments if s.speaker == speaker]))
        for speaker in dict.fromkeys(s.speaker for s in segments)
        if not context.gender(speaker)
    }
    return context.with_genders(genders)


def choose_route(ctx: Context, source: str, target: str) -> routes.Route:
    """The preset's backends that are usable here, in its order, routed source → target (see dubkit.stages.routes);
    a ConfigError listing the pairs they offer when neither one nor two chained reach it."""
    config = ctx.preset.translate
    usable = [
        (name, ctx.backends.get("mt", name, config.options.get(name, {})))
        for name in config.backends
        if registry.availability(registry.spec("mt", name))[0]
    ]
    return routes.plan(usable, source, target)


def _from_script(job: Job, ctx: Context, terms: glossary.Glossary) -> Job:
    """Resume from an edited script (JSON, or a subtitle / CSV export merged onto its base): its content is the
    stage's identity; the glossary is only checked against it."""
    path = job.episode.script
    assert path is not None
    script = formats.load_edited(path, job.episode.script_base)
    target = languages.canonical(job.episode.target)
    if not languages.same_language(script.target_language, target):
        raise ConfigError(f"{path}: script is for {script.target_language}, not {target}")
    digest = hashlib.sha256(script.to_json().encode()).hexdigest()
    report = terms.report(script.segments) if terms else None
    return job.with_artefact(NAME, Artefact(digest, path, True), script=script, glossary=report)
