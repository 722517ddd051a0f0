"""Pluggable engines, one module per engine: `<kind>_<engine>.py` (asr_, mt_, tts_, sep_, diarize_, lipsync_).

`registry.py` maps the names a preset uses to these modules (imported lazily, with the install hint for a missing
one); `models.py` finds the embedded weights that packages ship. Heavy libraries (torch, onnxruntime, transformers,
…) are imported here and in `dubkit.lipsync` only. A backend never imports a stage.
"""
