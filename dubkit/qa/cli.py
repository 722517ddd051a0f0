"""`dubkit qa`: the plumbing between the command line and `dubkit.qa.review` (inputs checked, preset read)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from dubkit import media
from dubkit.config import load_preset
from dubkit.errors import ConfigError
from dubkit.job import LineFit
from dubkit.script import Script


def run_review(
    original: Path,
    dubbed: Path,
    script_path: Path,
    fits_path: Path | None,
    outdir: Path,
    samples: int | None,
    side_by_side: bool,
    pipeline: str | None,
) -> dict:
    from dubkit.backends import registry
    from dubkit.qa.review import review

    preset = load_preset(pipeline)
    config = preset.qa
    if samples is not None:
        config = dataclasses.replace(config, samples=samples)
    config = dataclasses.replace(config, side_by_side=side_by_side or config.side_by_side)
    for path in (original, dubbed):
        media.probe(path)  # a missing or broken file fails here, named
    script = Script.load(script_path)
    fits = load_fits(fits_path) if fits_path else {}
    transcriber = registry.create("asr", preset.transcribe.backend, preset.transcribe.options, str(preset.path))
    try:
        names = (str(original), str(dubbed), str(script_path))
        target = preset.render.loudness
        return review(original, dubbed, script, fits, config, target, transcriber, outdir, names)
    finally:
        transcriber.close()


def load_fits(path: Path) -> dict[str, LineFit]:
    """Line fits from `dubkit translate --json` output (its "fits") or a bare list of them."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        rows = data["fits"] if isinstance(data, dict) else data
        fits = [LineFit(**_fit_fields(row)) for row in rows]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{path}: not a fits file ({exc.__class__.__name__}: {exc})") from None
    return {fit.id: fit for fit in fits}


def _fit_fields(row: dict) -> dict:
    """A fit's fields from its JSON row: each required one (a KeyError when missing), those with a default (added
    later, e.g. `cut_ms`) where the row has them, so fits written by an older dubkit still load."""
    fields = dataclasses.fields(LineFit)
    return {f.name: row[f.name] for f in fields if f.name in row or f.default is dataclasses.MISSING}
