"""Translate stage: the whole episode's lines go to one backend at once, for context."""

from __future__ import annotations

import dataclasses
import hashlib
import sys
import unicodedata
from collections.abc import Sequence
from pathlib import Path

from dubkit import glossary, languages
from dubkit.backends import registry
from dubkit.backends.base import TranslationRequest, Translator
from dubkit.errors import ConfigError, StageFailed
from dubkit.job import Artefact, Job
from dubkit.script import Script, Segment, formats, model
from dubkit.stages import transcribe
from dubkit.stages.base import Context

NAME = "translate"
VERSION = 1  # bump when a change here changes the bytes of a cache entry (see dubkit.cache)


def run(job: Job, ctx: Context) -> Job:
    terms = load_glossary(ctx, job.episode.target)
    if job.episode.script is not None:
        return _from_script(job, ctx, terms)
    transcript = transcribe.load(job.entry("transcribe") / "transcript.json")
    source = languages.canonical(job.episode.source or transcript.language)
    target = languages.canonical(job.episode.target)
    if languages.same_language(source, target):
        raise ConfigError(f"{job.episode.media}: source and target language are both {source}")
    name, backend = choose_backend(ctx, source, target)
    options = {"backend": name, "source": source, "target": target}
    key = ctx.cache.key(
        NAME,
        backend.fingerprint(),
        options | ({"glossary": terms.identity()} if terms else {}),
        {"transcript": job.key("transcribe")},
        code=(sys.modules[__name__], glossary, model),
    )

    def build(work: Path) -> None:
        segments = transcript.segments
        protected = [terms.protect(s.text) for s in segments]  # glossary terms → placeholders MT passes through
        request = TranslationRequest(
            texts=tuple(p.text for p in protected),
            source=source,
            target=target,
            spans=tuple((s.start_ms, s.end_ms) for s in segments),
            audio=job.entry("ingest") / "speech.wav",
        )
        translations = backend.translate(request)
        if len(translations) != len(segments):
            raise StageFailed(f"translate/{name}: returned {len(translations)} lines for {len(segments)}")
        translated = tuple(
            dataclasses.replace(s, translation=terms.restore(p, t).strip())
            for s, p, t in zip(segments, protected, translations, strict=True)
        )
        Script(source, target, ()).with_segments(translated).save(work / "script.json")

    entry, cached = ctx.cache.entry(key, build)
    script = Script.load(entry / "script.json")
    check_not_empty(script.segments, name, entry / "script.json")
    report = terms.report(script.segments) if terms else None
    return job.with_artefact(NAME, Artefact(key.digest, entry, cached), script=script, glossary=report)


def check_not_empty(segments: Sequence[Segment], backend: str, script: Path) -> None:
    """StageFailed naming the lines that have words but whose translation has none (empty, or only punctuation):
    dubbed, such a line would be silence where the original speaks.

    The translated *script* stays in the cache, so the message can point at it: a copy with those lines filled in
    dubs the episode (`--script`); another backend has another key and translates afresh.
    """
    empty = [s for s in segments if _has_words(s.text) and not _has_words(s.translation)]
    if empty:
        named = "; ".join(f"{s.id} at {s.start_ms / 1000:.1f} s {s.text!r}" for s in empty[:5])
        more = f" and {len(empty) - 5} more" if len(empty) > 5 else ""
        raise StageFailed(
            f"translate/{backend} returned no translation for {len(empty)} line(s): {named}{more}. Choose another"
            f" backend, or fill them in a copy of {script} and dub from it with --script"
        )


def _has_words(text: str) -> bool:
    """True if *text* has a letter or a digit (in any script), not only spaces and punctuation."""
    return any(unicodedata.category(char)[0] in "LN" for char in text)


def load_glossary(ctx: Context, target: str) -> glossary.Glossary:
    """The preset's glossary (`[translate] glossary`, relative to the preset; `--glossary`) for *target*."""
    if not ctx.preset.translate.glossary:
        return glossary.Glossary()
    path = Path(ctx.preset.translate.glossary).expanduser()
    path = path if path.is_absolute() else ctx.preset.path.parent / path
    return glossary.load(path, languages.canonical(target))


def choose_backend(ctx: Context, source: str, target: str) -> tuple[str, Translator]:
    """The first preset backend that is usable here and supports the pair; else a ConfigError listing pairs."""
    config = ctx.preset.translate
    offered: list[str] = []
    for name in config.backends:
        if not registry.availability(registry.spec("mt", name))[0]:
            continue
        backend = ctx.backends.get("mt", name, config.options.get(name, {}))
        if backend.supports(source, target):
            return name, backend
        offered.append(f"{name}: {_describe_pairs(backend.pairs())}")
    available = "; ".join(offered) or "no translation backend is installed (see `dubkit backends`)"
    raise ConfigError(f"no translation backend for {source} → {target} (available: {available})")


def _describe_pairs(pairs: list[tuple[str, str]]) -> str:
    targets: dict[str, list[str]] = {}
    for source, target in pairs:
        targets.setdefault(target, []).append(source)
    parts = [f"{'any' if len(s) > 20 else ','.join(sorted(s))}→{t}" for t, s in sorted(targets.items())]
    return " ".join(parts)


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
