"""Edits to a script: a line as an edited file shows it (`LineEdit`), merged onto the base script field by field.

A field changes only where the edited file differs from what the base's own export shows, so a format's rounding is
never mistaken for an edit and every untouched line stays byte-identical (its per-line caches hit). A line whose
translation an editor changed speaks that text: its `pick` is emptied, so none of its versions is chosen in its place
(`isochrony.py`). The formats (`dubkit.script.formats`, `dubkit.script.ttml`) read files into `LineEdit`s; this
module knows nothing of formats.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from dubkit.errors import ConfigError, one_line
from dubkit.script.model import Script, Segment


@dataclass(frozen=True)
class LineEdit:
    """One line as a file shows it; None where the format has no slot for the field."""

    translation: str
    id: str | None = None
    start_ms: int | None = None
    end_ms: int | None = None
    speaker: str | None = None
    subtitle: str | None = None


EDITABLE = ("translation", "start_ms", "end_ms", "speaker", "subtitle")


def changed_lines(before: Script, after: Script) -> tuple[str, ...]:
    """Ids of the lines that differ between two versions of a script (and of lines only in *after*)."""
    old = {s.id: s for s in before.segments}
    return tuple(s.id for s in after.segments if old.get(s.id) != s)


def merge(base: Script, edits: Sequence[LineEdit], view: Sequence[LineEdit], origin: str, positional: bool) -> Script:
    """Apply the fields where *edits* differ from *view* (the base as the format shows it) onto *base*.
    *positional*: the file carries no ids (SRT), so the n-th cue is the n-th line."""
    if not edits:
        raise ConfigError(f"{origin}: no cues found (is it a subtitle file of its suffix's format?)")
    pair = _by_position if positional else _by_id
    edited, shown = pair(base, edits, origin), pair(base, view, origin)
    segments = tuple(_merged(s, edited[s.id], shown[s.id], origin) for s in base.segments)
    if segments == base.segments:
        return base
    if any(new.speaker != old.speaker for new, old in zip(segments, base.segments, strict=True)):
        return base.with_segments(segments)
    return dataclasses.replace(base, segments=segments)


def _by_position(base: Script, lines: Sequence[LineEdit], origin: str) -> dict[str, LineEdit]:
    ids = [s.id for s in base.segments]
    if len(lines) != len(ids):
        raise ConfigError(
            f"{origin}: {len(lines)} cues for {len(ids)} script lines; SRT cues map to lines by number, so add or"
            " remove none (vtt, ass, ttml and csv carry line ids)"
        )
    return dict(zip(ids, lines, strict=True))


def _by_id(base: Script, lines: Sequence[LineEdit], origin: str) -> dict[str, LineEdit]:
    ids = [s.id for s in base.segments]
    found: dict[str, LineEdit] = {}
    for index, line in enumerate(lines, start=1):
        if line.id is None:
            raise ConfigError(f"{origin}: cue {index} has no line id")
        if line.id in found:
            raise ConfigError(f"{origin}: line id {line.id} appears twice")
        found[line.id] = line
    unknown = sorted(set(found) - set(ids))
    if unknown:
        raise ConfigError(f"{origin}: line id {unknown[0]} is not in the base script")
    missing = [i for i in ids if i not in found]
    if missing:
        raise ConfigError(f"{origin}: line {missing[0]} is missing (remove lines in the script.json, not in an export)")
    return found


def _merged(segment: Segment, edit: LineEdit, shown: LineEdit, origin: str) -> Segment:
    changes = {
        name: getattr(edit, name)
        for name in EDITABLE
        if getattr(edit, name) is not None and getattr(edit, name) != getattr(shown, name)
    }
    if not changes:
        return segment
    if "translation" in changes:
        changes["pick"] = ""  # the editor's own text is spoken, not one of the line's versions
    merged = dataclasses.replace(segment, **changes)
    if not 0 <= merged.start_ms < merged.end_ms:
        raise ConfigError(
            f"{origin}: line {segment.id}: end ({merged.end_ms} ms) must be after start ({merged.start_ms} ms)"
        )
    return merged


def cleaned(text: str) -> str:
    """A cue's text as an edit: each line without the spaces around it, no blank lines at either end."""
    return "\n".join(line.strip() for line in text.strip().splitlines())


def malformed(origin: str, format_: str, exc: Exception) -> ConfigError:
    cause = one_line(exc, 200)
    return ConfigError(f"{origin}: not a valid {format_} file ({cause})")
