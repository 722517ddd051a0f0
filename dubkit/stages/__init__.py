"""The fixed, linear stages of a dub: ingest → transcribe → translate → synthesize → lipsync → render → qa.

Each module has `run(job, ctx) -> Job`: it does the plumbing (cache keys, per-line keys, fitting, progress) and
leaves the work to the backends the preset chose. `base.py` holds what every stage gets (`Context`: the cache, the
preset, the pool of loaded backends).
"""
