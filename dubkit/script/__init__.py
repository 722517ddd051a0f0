"""The dubbing script: the artefact people edit, and every way it travels.

`model.py` holds the data (`Script`, `Segment`, `Version`, `Word`, `Transcript`; sorted JSON, stable line ids),
re-exported here; `sentences.py` merges recognised words into whole sentences; `edits.py` merges an edited file
onto its base field by field (so untouched lines stay byte-identical); `formats.py` exports and reads srt, vtt, ass,
csv and json, `ttml.py` the TTML flavour; `isochrony.py` chooses which of a line's versions the dub speaks, by
their measured lengths. Nothing here runs a model or opens media.
"""

from dubkit.script.model import Script, Segment, Transcript, Version, Word

__all__ = ["Script", "Segment", "Transcript", "Version", "Word"]
