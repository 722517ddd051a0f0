"""Burned-in subtitles: the band of the picture they are drawn in, the cues read from it, their text fused with the
speech, and the picture edited — the originals erased, the dub's set in their place.

`find_band` (band.py) samples a video's frames and returns the rows where centred text appears and changes over time
(a sign or a logo does not change, so it is no band), or None; `read_cues` (cues.py) splits the video where that
band's content changes and reads each run of unchanged text once with a `TextReader` backend (`ocr_*`), giving cues
with frame-accurate in and out points. `fusion.fuse` makes the cues the transcript's lines, timed and attributed by
the recognised words. `erase.erase` removes a cue's glyphs from the band, `typeset` sets text in it with libass, and
`edit.SubtitleEdit` composes both for the picture stage. Nothing here opens a container itself: frames come through
`dubkit.media`.
"""

from dubkit.hardsubs.band import Band, find_band
from dubkit.hardsubs.cues import Cue, TextRun, read_cues, text_runs

__all__ = ["Band", "Cue", "TextRun", "find_band", "read_cues", "text_runs"]
