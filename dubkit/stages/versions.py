"""The translate stage's versions of each line (`[translate] versions` > 1), for synthesize to choose from by their
measured length (`dubkit.script.isochrony`).

A route whose one engine can say a line in fewer words (`Shortener`: an LLM) is asked for the versions itself, told
each line's slot; any other route translates as usual and each line gets its safe condensations
(`dubkit.script.isochrony.offline_versions`), one of them the translation of the condensed source, asked of the route in
one request for the lines whose source condensation changed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

from dubkit import fit
from dubkit.backends.base import TranslationRequest
from dubkit.errors import StageFailed
from dubkit.script import Segment, Version, isochrony
from dubkit.stages.base import Context
from dubkit.stages.routes import Route
from dubkit.subtitles.condense import condense

VERSION = 1  # bump when a change here changes the bytes of a cache entry (see dubkit.cache)
Legs = tuple[tuple[str, ...], ...]
Restore = Callable[[int, str], str]  # (line index, an engine's text) → the text the script keeps (glossary terms)


def translate(
    route: Route, request: TranslationRequest, ctx: Context, duration_s: float, restore: Restore
) -> tuple[Legs, list[tuple[Version, ...]]]:
    """The route's legs (as `Route.translate`) and each line's versions, most faithful first (none when the
    preset asks for one version). The last leg's line is the first version's text before *restore*."""
    count = ctx.preset.translate.versions
    if count <= 1:
        return route.translate(request), [() for _ in request.texts]

    def restored(line: int, text: str) -> str:  # as the stage writes the translation
        return restore(line, text).strip()

    shortener = route.reader
    if shortener is not None:
        request = dataclasses.replace(request, slots_ms=slots_ms(request.spans, duration_s, ctx))
        rows = _checked(shortener.translate_versions(request, count), request, route.label)
        versions = [
            isochrony.distinct([Version(restored(i, text), llm_kind(j, count)) for j, text in enumerate(row[:count])])
            for i, row in enumerate(rows)
        ]
        return (tuple(row[0] for row in rows),), versions
    legs = route.translate(request)
    return legs, _offline_versions(route, request, legs[-1], restored, count)


def _offline_versions(
    route: Route, request: TranslationRequest, translations: Sequence[str], restore: Restore, count: int
) -> list[tuple[Version, ...]]:
    """Each line's translation and its safe condensations (`isochrony.offline_versions`), at most *count*."""
    shorter = _condensed_source_translations(route, request)
    found = []
    for i, (source_text, translation) in enumerate(zip(request.texts, translations, strict=True)):

        def condensed(text: str, line: int = i) -> str:
            return restore(line, shorter[text])

        versions = isochrony.offline_versions(
            restore(i, translation), source_text, request.target, request.source, condensed
        )
        found.append(versions[:count])
    return found


def options(ctx: Context) -> dict[str, Any]:
    """What the translate stage's cache key gains where more than one version is asked: their number, and what the
    slots an LLM is told depend on besides the lines' spans (`dubkit.fit.slots`)."""
    count = ctx.preset.translate.versions
    if count <= 1:
        return {}
    config = ctx.preset.synthesize.fit
    return {"versions": count, "slots": {"max_borrow_ms": config.max_borrow_ms, "min_gap_ms": config.min_gap_ms}}


def with_versions(segment: Segment, versions: tuple[Version, ...]) -> Segment:
    """*segment* carrying its *versions*, the measured lengths to choose among them (`pick` auto); as it is
    when there are none."""
    if not versions:
        return segment
    return dataclasses.replace(segment, versions=versions, pick=isochrony.AUTO, choice="")


def llm_kind(index: int, count: int) -> str:
    """The kind of an LLM's *index*-th of *count* versions: natural, shorter (numbered when several), shortest."""
    if index == 0:
        return "llm:natural"
    if index == count - 1 and count > 2:
        return "llm:shortest"
    return "llm:shorter" if count <= 3 else f"llm:shorter-{index}"


def slots_ms(spans: Sequence[tuple[int, int]], duration_s: float, ctx: Context) -> tuple[int, ...]:
    """How long each line's dub may last (`dubkit.fit.slots`, as synthesize will fit it), from the lines' spans
    and the episode's duration (the last line's end where it is unknown)."""
    segments = [Segment(str(i), start, max(end, start + 1), "") for i, (start, end) in enumerate(spans)]
    duration_ms = int(round(duration_s * 1000)) or max((s.end_ms for s in segments), default=0)
    return tuple(slot.ms for slot in fit.slots(segments, duration_ms, ctx.preset.synthesize.fit))


def _checked(rows: list[tuple[str, ...]], request: TranslationRequest, label: str) -> list[tuple[str, ...]]:
    """The engine's versions, one non-empty tuple per line, else a StageFailed naming the engine."""
    if len(rows) != len(request.texts) or any(not row for row in rows):
        raise StageFailed(f"translate/{label}: returned versions for {len(rows)} lines of {len(request.texts)}")
    return [tuple(text.strip() for text in row) for row in rows]


def _condensed_source_translations(route: Route, request: TranslationRequest) -> dict[str, str]:
    """Condensed source text → its translation, for the lines whose source condensation changes something; one
    request to the route (with those lines' spans, for engines that listen)."""
    changed = [i for i, text in enumerate(request.texts) if condense(text, request.source) != text]
    if not changed:
        return {}
    texts = tuple(condense(request.texts[i], request.source) for i in changed)
    subset = dataclasses.replace(
        request,
        texts=texts,
        spans=tuple(request.spans[i] for i in changed) if request.spans else (),
        ids=tuple(request.ids[i] for i in changed) if request.ids else (),
        speakers=tuple(request.speakers[i] for i in changed) if request.speakers else (),
        slots_ms=(),
    )
    return dict(zip(texts, route.translate(subset)[-1], strict=True))
