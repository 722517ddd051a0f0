"""Isochrony: which of a line's versions the dub speaks, chosen by how long each takes to say.

A line may come with several versions (`dubkit.script.Version`), the most faithful first: an LLM's translation at
several lengths, or an offline engine's translation and its safe condensations. Each is synthesized once with the
line's voice at its natural rate and measured; the dub speaks the most faithful one that fits the line's slot
(`dubkit.fit.Slot`) at up to `natural_speed`, else the one that needs the least speed-up. The rest of the fit (speed,
stretch, overflow: `dubkit.fit`) then works on the chosen one as on any line.

Pure: no I/O. Measuring is the synthesize stage's (it owns the takes and their cache).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dubkit.errors import ConfigError
from dubkit.fit import Slot
from dubkit.script.model import Segment, Version
from dubkit.subtitles.condense import condense

VERSION = 1  # bump when a change here changes the bytes of a cache entry (see dubkit.cache)
AUTO = "auto"  # a line's `pick` that lets the measured lengths choose


@dataclass(frozen=True)
class Choice:
    """The version spoken (0-based *index*) and, for the editor, why (`v2: 1.84 s for a 2.10 s slot; v1 needed
    1.31×`)."""

    index: int
    reason: str


def choose(speech_ms: Sequence[float], slot: Slot, natural_speed: float) -> Choice:
    """The first (most faithful) version whose measured length fits *slot* at up to *natural_speed*; when none
    does, the one needing the least speed-up (the more faithful of equals)."""
    if not speech_ms:
        raise ValueError("no versions to choose from")
    needs = [ms / max(slot.ms, 1) for ms in speech_ms]
    fitting = [i for i, need in enumerate(needs) if need <= natural_speed]
    index = fitting[0] if fitting else min(range(len(needs)), key=lambda i: (needs[i], i))
    said = f"v{index + 1}: {speech_ms[index] / 1000:.2f} s for a {slot.ms / 1000:.2f} s slot"
    if index == 0:
        return Choice(0, said if fitting else f"{said}; needs {needs[0]:.2f}×, and no version needs less")
    if fitting:
        return Choice(index, f"{said}; v1 needed {needs[0]:.2f}×")
    return Choice(index, f"{said}, {needs[index]:.2f}×: the least of all (v1 needed {needs[0]:.2f}×)")


def offline_versions(
    translation: str,
    source_text: str,
    target: str,
    source: str,
    translate_condensed: Callable[[str], str] | None = None,
) -> tuple[Version, ...]:
    """An offline engine's versions of one line: its *translation* (`mt`), that translation safely condensed
    (`mt:condensed`, `dubkit.subtitles.condense`) and, given *translate_condensed* (source text → translation),
    the translation of the condensed source (`mt:condensed-source`). A version that says nothing new is dropped."""
    versions = [Version(translation, "mt"), Version(condense(translation, target), "mt:condensed")]
    shorter_source = condense(source_text, source)
    if translate_condensed is not None and shorter_source != source_text:
        versions.append(Version(translate_condensed(shorter_source), "mt:condensed-source"))
    return distinct(versions)


def distinct(versions: Sequence[Version]) -> tuple[Version, ...]:
    """*versions* without those whose text (spaces aside) an earlier one has, nor empty ones, in order."""
    seen: set[str] = set()
    kept = []
    for version in versions:
        said = " ".join(version.text.split())
        if said and said not in seen:
            seen.add(said)
            kept.append(version)
    return tuple(kept)


def spoken_by_choice(segment: Segment) -> bool:
    """Whether the measured lengths choose what *segment* says: it has versions, its `pick` is `auto`, and its
    translation is one of them (a translation that is none of them was written by an editor, and is spoken)."""
    texts = {v.text for v in segment.versions}
    return segment.pick == AUTO and len(segment.versions) > 0 and segment.translation in texts


def picked(segment: Segment) -> str:
    """The text an editor's `pick` ("1".."K") names; the translation where it names none (empty pick, or auto).
    A pick that names no version of the line is a ConfigError."""
    if segment.pick in ("", AUTO):
        return segment.translation
    if not (segment.pick.isdigit() and 1 <= int(segment.pick) <= len(segment.versions)):
        named = f"1 to {len(segment.versions)}, " if segment.versions else ""
        raise ConfigError(f"line {segment.id}: pick {segment.pick!r} names no version (use {named}auto, or empty)")
    return segment.versions[int(segment.pick) - 1].text


def said(segment: Segment) -> dict[str, Any]:
    """What the synthesize stage keeps of a line with versions as spoken, as JSON (`as_said` puts it back)."""
    lengths = [v.speech_ms for v in segment.versions]
    return {"id": segment.id, "translation": segment.translation, "choice": segment.choice, "speech_ms": lengths}


def as_said(segments: Sequence[Segment], kept: Sequence[Mapping[str, Any]]) -> tuple[Segment, ...]:
    """*segments* with the lines in *kept* (`said`) as they were spoken: the spoken text as the translation, each
    version's measured length and the reason for the choice."""
    by_id = {item["id"]: item for item in kept}
    out = []
    for segment in segments:
        item = by_id.get(segment.id)
        if item is not None:
            lengths = item["speech_ms"]
            versions = tuple(
                dataclasses.replace(v, speech_ms=ms) for v, ms in zip(segment.versions, lengths, strict=True)
            )
            segment = dataclasses.replace(
                segment, translation=item["translation"], choice=item["choice"], versions=versions
            )
        out.append(segment)
    return tuple(out)
