"""Subtitles of the translation, written with pysubs2 (no hand-written formats)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from dubkit.fsutil import atomic_path
from dubkit.job import LineFit
from dubkit.script import Script


def write(script: Script, lines: Sequence[LineFit], out: Path, format_: str = "srt") -> None:
    """One cue per line, timed as the dub speaks it (never shorter than the source line)."""
    import pysubs2

    fits = {line.id: line for line in lines}
    subs = pysubs2.SSAFile()
    for segment in script.segments:
        text = segment.translation.strip()
        if not text:
            continue
        line = fits.get(segment.id)
        end = max(segment.end_ms, line.end_ms) if line else segment.end_ms
        subs.append(pysubs2.SSAEvent(start=segment.start_ms, end=end, text=text.replace("\n", "\\N")))
    with atomic_path(out) as tmp:
        subs.save(str(tmp), format_=format_)
