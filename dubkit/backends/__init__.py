"""Pluggable engines, one module per engine: `<kind>_<engine>.py` (asr_, mt_, tts_, sep_, diarize_, lipsync_).

`base.py` holds the contracts (one Protocol per kind, each with `fingerprint()`, `load()`, `close()`, and the request
data they take); stages type their backends with them. `registry.py` maps the names a preset uses to the engine
modules (imported lazily) and holds every install hint; `models.py` finds the embedded weights that packages ship.
What several engines share lives in `_*.py` helpers (`_fingerprint`, `_torch`, `_phonemes`, `_whisper`,
`_transformers`). An engine imports no stage and no other engine: one built on another goes through a shared helper
or the registry. Heavy libraries (torch, onnxruntime, transformers, …) are imported here and in `dubkit.lipsync`
only.
"""
