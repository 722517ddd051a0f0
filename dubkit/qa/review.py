"""A review folder for one dub: `report.json` (the figures), `report.html` (for people) and `samples/`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from dubkit.backends.base import Transcriber
from dubkit.config import LoudnessTarget, QaConfig
from dubkit.fsutil import write_text_atomic
from dubkit.job import LineFit
from dubkit.lipsync import tracks
from dubkit.qa import html, report, samples
from dubkit.script import Script
from dubkit.subtitles import layout

VERSION = 1  # bump when a change here changes the bytes of a cache entry (see dubkit.cache)


def review(
    original: Path,
    dubbed: Path,
    script: Script,
    fits: Mapping[str, LineFit],
    config: QaConfig,
    loudness_target: LoudnessTarget,
    transcriber: Transcriber,
    out: Path,
    names: tuple[str, str, str | None] | None = None,
    source_faces: tracks.Analysis | None = None,
    subtitle_report: layout.Report | None = None,
) -> dict:
    """Measure *dubbed* against *original* and *script*, render the samples, write the report into *out*.
    *names*: how the report calls the original, the dub and the script (default: their paths); *subtitle_report*:
    the render's subtitles (each line's then shows its subtitle and the rules it breaks)."""
    found = report.measure(
        original,
        dubbed,
        script,
        fits,
        config.thresholds,
        loudness_target,
        transcriber,
        source_faces=source_faces,
        subtitle_report=subtitle_report,
    )
    original_name, dubbed_name, script_name = names or (str(original), str(dubbed), None)
    found.update(original=original_name, dubbed=dubbed_name, script=script_name)
    if media_has_video(dubbed) and media_has_video(original):
        _samples(original, dubbed, found, config, script.target_language, out)
    write_text_atomic(out / "report.json", json.dumps(found, ensure_ascii=False, indent=1))
    html.render(found, out / "report.html")
    return found


def media_has_video(path: Path) -> bool:
    from dubkit import media

    return media.probe(path).has_video


def _samples(original: Path, dubbed: Path, found: dict, config: QaConfig, target: str, out: Path) -> None:
    (out / "samples").mkdir(parents=True, exist_ok=True)
    by_id = {line["id"]: line for line in found["lines"]}
    for line in samples.worst_lines(found["lines"], config.samples):
        name = f"samples/line-{line['id']}.mp4"
        samples.line_clip(original, dubbed, line, target, out / name)
        by_id[line["id"]]["sample"] = name
        found["samples"]["clips"].append({"line": line["id"], "path": name})
    if config.side_by_side:
        samples.full_clip(original, dubbed, found["lines"], target, out / "samples" / "side_by_side.mp4")
        found["samples"]["side_by_side"] = "samples/side_by_side.mp4"
