"""Burned-in subtitles: finding the band of the picture they are drawn in, and reading them into timed cues.

`find_band` samples a video's frames and returns the rows where centred text appears and changes over time (a
sign or a logo does not change, so it is no band), or None; `read_cues` splits the video where that band's
content changes and reads each run of unchanged text once with a `TextReader` backend (`ocr_*`), giving cues
with frame-accurate in and out points. Nothing here opens a container itself: frames come through
`dubkit.media`.
"""

from dubkit.hardsubs.band import Band, find_band
from dubkit.hardsubs.cues import Cue, TextRun, read_cues, text_runs

__all__ = ["Band", "Cue", "TextRun", "find_band", "read_cues", "text_runs"]
