"""Translation routes: the engine that translates a pair, or two engines chained through English when none does.

A preset lists its translation backends in order; the first usable one that supports source → target translates
directly. Where none does (Mandarin → Spanish offline: Whisper hears zh → en, apertium and pivot write en → es), the
first for source → English and the first for English → target are chained: every target the stage reaches from
English is then reachable from every language some engine takes into English. A direct engine always wins.

The composition lives with the stage, not in a backend: backends never import one another, and the preset's order
is the stage's to read.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dubkit import languages
from dubkit.backends.base import Shortener, TranslationRequest, Translator
from dubkit.errors import ConfigError, StageFailed

VERSION = 1  # bump when a change here changes the bytes of a cache entry (see dubkit.cache)
BRIDGE = "en"  # where chained legs meet: the language most engines translate from and into


@dataclass(frozen=True)
class Leg:
    """One backend translating one pair."""

    name: str
    backend: Translator
    source: str
    target: str

    @property
    def label(self) -> str:
        return f"{self.name}:{self.source}→{self.target}"


@dataclass(frozen=True)
class Route:
    """One leg (direct) or two (through English), run in order: a leg's lines are the next leg's input."""

    legs: tuple[Leg, ...]

    @property
    def label(self) -> str:
        return " ".join(leg.label for leg in self.legs)

    @property
    def reader(self) -> Shortener | None:
        """The route's one engine when it reads the series' context and offers shorter versions (`mt_llm`): it is
        told the glossary and the characters rather than handed placeholders."""
        backend = self.legs[0].backend
        return backend if len(self.legs) == 1 and isinstance(backend, Shortener) else None

    def fingerprint(self) -> dict[str, Any]:
        """The backend's fingerprint (direct), else every leg's under its label: a change in either is a new key."""
        if len(self.legs) == 1:
            return self.legs[0].backend.fingerprint()
        return {leg.label: leg.backend.fingerprint() for leg in self.legs}

    def translate(self, request: TranslationRequest) -> tuple[tuple[str, ...], ...]:
        """Every leg's lines, in order; the last leg's are the translation. A leg that returns another number of
        lines than it was given is a StageFailed."""
        outputs: list[tuple[str, ...]] = []
        texts = request.texts
        for leg in self.legs:
            leg_request = dataclasses.replace(request, texts=texts, source=leg.source, target=leg.target)
            lines = leg.backend.translate(leg_request)
            if len(lines) != len(texts):
                raise StageFailed(f"translate/{leg.name}: returned {len(lines)} lines for {len(texts)}")
            texts = tuple(line.strip() for line in lines)
            outputs.append(texts)
        return tuple(outputs)

    def describe(self, handed_on: Sequence[str]) -> str:
        """The route of one line: each leg's label, and after every leg but the last the text it handed on (as a
        JSON string, so that quotes and spaces in it stay unambiguous)."""
        parts = [self.legs[0].label]
        for leg, text in zip(self.legs[1:], handed_on, strict=True):
            parts += [json.dumps(text, ensure_ascii=False), leg.label]
        return " ".join(parts)


def plan(candidates: Sequence[tuple[str, Translator]], source: str, target: str) -> Route:
    """The route for source → target through *candidates* (name, backend; in preset order): the first direct
    engine, else the first into English followed by the first out of it; else a ConfigError listing the pairs."""
    direct = _first(candidates, source, target)
    if direct is not None:
        return Route((direct,))
    if not (languages.same_language(source, BRIDGE) or languages.same_language(target, BRIDGE)):
        into, out_of = _first(candidates, source, BRIDGE), _first(candidates, BRIDGE, target)
        if into is not None and out_of is not None:
            return Route((into, out_of))
    offered = "; ".join(f"{name}: {describe_pairs(backend.pairs())}" for name, backend in candidates)
    available = offered or "no translation backend is installed (see `dubkit backends`)"
    raise ConfigError(
        f"no translation backend for {source} → {target}, directly or through {BRIDGE} (available: {available})"
    )


def _first(candidates: Sequence[tuple[str, Translator]], source: str, target: str) -> Leg | None:
    for name, backend in candidates:
        if backend.supports(source, target):
            return Leg(name, backend, source, target)
    return None


def describe_pairs(pairs: list[tuple[str, str]]) -> str:
    """Pairs grouped by target ("en,pt→es"), a long list of sources as "any"."""
    targets: dict[str, list[str]] = {}
    for source, target in pairs:
        targets.setdefault(target, []).append(source)
    parts = [f"{'any' if len(s) > 20 else ','.join(sorted(s))}→{t}" for t, s in sorted(targets.items())]
    return " ".join(parts)
