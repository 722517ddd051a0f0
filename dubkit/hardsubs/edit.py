"""Burned-in subtitles edited in the picture, frame by frame, inside the picture stage's one pass over the spans it
re-encodes: the originals erased (`erase.py`) inside their band, every other pixel kept, and, to replace them, the
dub's subtitles set where they were (`typeset.py`) at the size and outline measured on the originals.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
import tempfile
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from dubkit import media
from dubkit.hardsubs import erase, typeset
from dubkit.hardsubs.band import Band
from dubkit.hardsubs.cues import Cue

VERSION = 1  # bump when a change here changes the bytes of a cache entry (see dubkit.cache)
CODE = (sys.modules[__name__], erase, typeset)  # the modules that decide an edited picture's pixels


@dataclass(frozen=True)
class SubtitleEdit:
    """The subtitles burned into *video* (its `band` and `cues`) erased, and `replacements` — (start ms, end ms,
    text) of the dub's subtitle cues, on the frames' clock — set in their place (none: erased only) in the font
    for `language`."""

    video: Path
    band: Band
    cues: tuple[Cue, ...]
    replacements: tuple[tuple[int, int, str], ...] = ()
    language: str = ""

    def frames(self, times_s: np.ndarray) -> set[int]:
        """The indices of the frames this changes: those showing an original cue or a replacement (`times_s[i]`:
        frame i's time, ascending)."""
        found = {index for cue in self.cues for index in range(cue.first, cue.end)}
        for start_ms, end_ms, _ in self.replacements:
            first, end = np.searchsorted(times_s * 1000, [start_ms, end_ms], side="left")
            found.update(range(int(first), int(end)))
        return found

    def identity(self, first: int, end: int, first_s: float, last_s: float) -> dict[str, Any]:
        """What the frames `first`..`end` (exclusive; shown from `first_s` to `last_s`) are edited with: the cues
        and replacements they show, and the whole set of cues (the replacements' style is measured on them)."""
        shown = [[cue.first, cue.end, cue.text] for cue in self.cues if cue.first < end and cue.end > first]
        set_in = [list(r) for r in self.replacements if r[0] <= last_s * 1000 and r[1] > first_s * 1000]
        every = json.dumps([dataclasses.asdict(cue) for cue in self.cues], ensure_ascii=False, sort_keys=True)
        return {
            "band": dataclasses.asdict(self.band),
            "cues": shown,
            "replacements": set_in,
            "language": self.language,
            "all_cues": hashlib.sha256(every.encode()).hexdigest(),
        }

    def apply(self, frames: Iterable[media.Frame]) -> Iterator[np.ndarray]:
        """One picture per frame, in order: the originals erased and the replacements set over the band."""
        clock: deque[int] = deque()  # each frame's time (ms), in the order the eraser takes them

        def timed() -> Iterator[media.Frame]:
            for frame in frames:
                clock.append(round(frame.time_s * 1000))
                yield frame

        erased = erase.erase(timed(), self.band, self.cues)
        if not self.replacements:
            yield from erased
            return
        yield from typeset.typeset(((clock.popleft(), picture) for picture in erased), self.canvas, self.overlays)

    @cached_property
    def overlays(self) -> list[typeset.Overlay]:
        """The replacements, each set once (libass), keyed by milliseconds as `apply` keys the frames."""
        with tempfile.TemporaryDirectory(prefix="dubkit-typeset-") as work:
            return typeset.render_overlays(self.replacements, self.canvas, self.style, self.language, Path(work))

    @cached_property
    def canvas(self) -> Band:
        """The rows the replacements are set in: the band grown by its height above and below, within the picture
        (a translation often takes two lines where the original took one, at the original's size)."""
        grow = self.band.bottom - self.band.top
        return dataclasses.replace(
            self.band, top=max(0, self.band.top - grow), bottom=min(self.band.height, self.band.bottom + grow)
        )

    @cached_property
    def style(self) -> typeset.Style:
        """Size, outline and colours of the original subtitles, measured on a frame in the middle of the longest."""
        longest = max(self.cues, key=lambda cue: cue.end - cue.first)
        middle_s = (longest.start_s + longest.end_s) / 2  # decoded from the keyframe before, not the video's start
        frame = next(media.video_span(self.video, middle_s, longest.end_s))
        return typeset.style_of(frame.rgb, self.band)
