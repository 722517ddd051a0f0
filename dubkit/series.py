"""What a translator that reads context knows of a series: its synopsis, register, characters and glossary.

The series file is the glossary file (`dubkit.glossary`, `[translate] glossary`, `--glossary`) with more in it:

    title = "The Heiress Returns"
    synopsis = "A hidden heiress comes back to the family that sold her out."
    register = "Contemporary melodrama; colloquial, short lines; characters use given names."
    keep = ["Lin Xia"]
    [characters.S1]                  # a speaker id, as the cast file (`dubkit.casting.cast`) names speakers
    name = "Lin Xia"
    gender = "female"                # female | male: agreement in es / pt / fr / it
    note = "the heiress; cold, precise"

A character the file does not describe keeps its speaker id; its gender may come from its voice (the stage's
`voice_genders`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dubkit import glossary
from dubkit.errors import ConfigError

VERSION = 1  # bump when a change here changes the bytes of a cache entry (see dubkit.cache)
GENDERS = ("female", "male", "")
_TEXT_KEYS = ("title", "synopsis", "register")
_CHARACTER_KEYS = ("name", "gender", "note")


@dataclass(frozen=True)
class Character:
    name: str = ""
    gender: str = ""
    note: str = ""


@dataclass(frozen=True)
class SeriesContext:
    """The series as a translator is told it; `terms`: the glossary for the target (source term → required form)."""

    title: str = ""
    synopsis: str = ""
    register: str = ""
    characters: Mapping[str, Character] = field(default_factory=dict)
    terms: Mapping[str, str] = field(default_factory=dict)

    def identity(self) -> dict[str, Any]:
        """Everything in it, in a stable order (for per-line cache keys)."""
        return {
            "title": self.title,
            "synopsis": self.synopsis,
            "register": self.register,
            "characters": {k: vars(v) for k, v in sorted(self.characters.items())},
            "terms": dict(sorted(self.terms.items())),
        }

    def gender(self, speaker: str) -> str:
        character = self.characters.get(speaker)
        return character.gender if character else ""

    def with_genders(self, genders: Mapping[str, str]) -> SeriesContext:
        """Speakers the file leaves without a gender given one (from their voices); the file's word wins."""
        characters = dict(self.characters)
        for speaker, gender in genders.items():
            known = characters.get(speaker, Character())
            if gender in GENDERS and not known.gender:
                characters[speaker] = Character(known.name, gender, known.note)
        return SeriesContext(self.title, self.synopsis, self.register, characters, self.terms)


def load(path: Path | None, target: str) -> SeriesContext:
    """The series file at *path* for target language *target* (no file: an empty context); a bad file is a
    ConfigError naming it and the key."""
    if path is None:
        return SeriesContext()
    data = glossary.read(path)
    terms = glossary.for_target(data, path, target).terms
    texts = {key: data.get(key, "") for key in _TEXT_KEYS}
    for key, value in texts.items():
        if not isinstance(value, str):
            raise ConfigError(f"{path}: {key!r} must be a string")
    return SeriesContext(**texts, characters=_characters(data.get("characters", {}), path), terms=terms)


def _characters(table: Any, path: Path) -> dict[str, Character]:
    if not isinstance(table, Mapping):
        raise ConfigError(f"{path}: 'characters' must hold one table per speaker ([characters.S1])")
    characters = {}
    for speaker, entry in table.items():
        if not isinstance(entry, Mapping) or not set(entry) <= set(_CHARACTER_KEYS):
            raise ConfigError(f"{path}: characters.{speaker} may have only {', '.join(_CHARACTER_KEYS)}")
        values = {key: entry.get(key, "") for key in _CHARACTER_KEYS}
        if not all(isinstance(v, str) for v in values.values()) or values["gender"] not in GENDERS:
            raise ConfigError(f"{path}: characters.{speaker}: gender is 'female' or 'male', and all are strings")
        characters[str(speaker)] = Character(**values)
    return characters
