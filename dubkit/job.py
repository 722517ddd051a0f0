"""What the user asked for (Episode) and what the stages produced so far (Job)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dubkit.glossary import Report as GlossaryReport
from dubkit.script import Script


@dataclass(frozen=True)
class Episode:
    """One dub request: a media file into one target language (one catalog row).

    `script`: an edited script to resume from, a script.json or a subtitle / CSV export of one
    (`dubkit.script_formats`), which is merged onto `script_base` (found beside it or in the output folder)."""

    media: Path
    target: str
    source: str | None = None
    script: Path | None = None
    cast: Mapping[str, str] = field(default_factory=dict)
    cast_file: Path | None = None  # series cast (`dubkit.cast`): read, and completed with new speakers
    script_base: Path | None = None


@dataclass(frozen=True)
class Artefact:
    """A stage's output: its cache key, its entry directory, whether it was reused, and counts of the parts
    it is made of (lip-sync: spans in all and spans rendered this run)."""

    key: str
    path: Path
    cached: bool
    counts: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class LineFit:
    """How one dubbed line was fitted to its slot."""

    id: str
    start_ms: int
    end_ms: int
    speed: float
    stretch: float
    overflow_ms: int
    synthesized: bool

    @property
    def overflow(self) -> bool:
        return self.overflow_ms > 0


@dataclass(frozen=True)
class Job:
    episode: Episode
    artefacts: Mapping[str, Artefact] = field(default_factory=dict)
    script: Script | None = None
    lines: tuple[LineFit, ...] = ()
    duration_s: float = 0.0
    glossary: GlossaryReport | None = None  # terms and violations, when the preset has a glossary

    def with_artefact(self, stage: str, artefact: Artefact, **changes: object) -> Job:
        return dataclasses.replace(self, artefacts={**self.artefacts, stage: artefact}, **changes)

    def entry(self, stage: str) -> Path:
        return self.artefacts[stage].path

    def key(self, stage: str) -> str:
        return self.artefacts[stage].key
