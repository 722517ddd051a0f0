"""What the user asked for (Episode) and what the stages produced so far (Job)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dubkit.glossary import Report as GlossaryReport
from dubkit.glossary import Violation
from dubkit.script import Script


@dataclass(frozen=True)
class Episode:
    """One dub request: a media file into one target language (one catalog row).

    `script`: an edited script to resume from, a script.json or a subtitle / CSV export of one
    (`dubkit.script.formats`), which is merged onto `script_base` (found beside it or in the output folder)."""

    media: Path
    target: str
    source: str | None = None
    script: Path | None = None
    cast: Mapping[str, str] = field(default_factory=dict)
    cast_file: Path | None = None  # series cast (`dubkit.casting.cast`): read, and completed with new speakers
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
    """How one dubbed line was fitted to its slot: *start_ms* / *end_ms* where its speech plays (a line the episode's
    end would cut may start before its source line); *cut_ms*, how much of it the episode's end still cuts off
    (0 for fits written before it was recorded); *version*, which of the line's versions it speaks (1-based; 0: the
    line has none, or speaks an editor's text)."""

    id: str
    start_ms: int
    end_ms: int
    speed: float
    stretch: float
    overflow_ms: int
    synthesized: bool
    cut_ms: int = 0
    version: int = 0

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

    def with_artefact(self, stage: str, artefact: Artefact, **changes: Any) -> Job:
        return dataclasses.replace(self, artefacts={**self.artefacts, stage: artefact}, **changes)

    def entry(self, stage: str) -> Path:
        return self.artefacts[stage].path

    def key(self, stage: str) -> str:
        return self.artefacts[stage].key

    def to_dict(self) -> dict[str, Any]:
        """The job as plain JSON values (paths as strings): what crosses a process or a cluster node."""
        return {
            "episode": {k: _plain(v) for k, v in dataclasses.asdict(self.episode).items()},
            "artefacts": {name: {**dataclasses.asdict(a), "path": str(a.path)} for name, a in self.artefacts.items()},
            "script": self.script.to_json() if self.script else None,
            "lines": [dataclasses.asdict(line) for line in self.lines],
            "duration_s": self.duration_s,
            "glossary": self.glossary.summary() if self.glossary else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Job:
        episode = data["episode"]
        paths = {k: Path(v) if v is not None else None for k, v in episode.items() if k in _EPISODE_PATHS}
        glossary = data.get("glossary")
        return cls(
            episode=Episode(**{**episode, **paths}),
            artefacts={
                name: Artefact(a["key"], Path(a["path"]), a["cached"], a.get("counts") or {})
                for name, a in data["artefacts"].items()
            },
            script=Script.from_json(data["script"]) if data.get("script") else None,
            lines=tuple(LineFit(**line) for line in data.get("lines") or ()),
            duration_s=float(data.get("duration_s") or 0.0),
            glossary=GlossaryReport(glossary["terms"], tuple(Violation(**v) for v in glossary["violations"]))
            if glossary
            else None,
        )


_EPISODE_PATHS = ("media", "script", "cast_file", "script_base")


def _plain(value: Any) -> Any:
    return str(value) if isinstance(value, Path) else value
