"""The human-facing QA report: one self-contained HTML file rendered from a `report.json` mapping.

`render(report, out)` writes `report.html` (see `report.schema.json` for the input): a header with the
episode verdicts (lines, loudness, A/V duration, sync before -> after), a timeline of the lines per speaker,
the waveform and mouth-vs-speech plots, sync per shot, and the per-line table. The page is the template
`templates/qa.html.j2` filled from a typed view of the report (`dubkit.qa.view`) and the plots' geometry
(`dubkit.qa.charts`); it shows the verdicts the report made and names the bound behind each. Everything is
inline: the stylesheet, the plots as SVG; no script and nothing fetched from a URL, so the file opens offline and
can be mailed around. Links to sample clips are relative, as they are in the report.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dubkit.fsutil import write_text_atomic
from dubkit.qa import charts, pages, view

VERSION = 2  # bump when a change here changes the bytes of a cache entry (see dubkit.cache)
REPORT_NAME = "report.html"
TEMPLATE = "qa.html.j2"

FLAG_LABELS = {
    "sync_offset": ("sync offset", "mouth and speech are further apart than the allowed offset"),
    "sync_confidence": ("sync unsure", "the sync measurement's confidence is below the minimum"),
    "wer": ("WER", "the re-transcribed dub differs too much from the translation"),
    "silent": ("silent", "no dubbed speech was heard in the line's slot"),
    "stretch": ("stretch", "the synthesis was time-stretched beyond the limit"),
    "duration": ("duration", "dubbed speech length differs too much from the source line's"),
    "start_shift": ("start shift", "the dubbed line starts too far from the source line"),
    "overflow": ("overflow", "the dubbed line runs past its slot"),
    "cut": ("cut", "the dubbed line runs past the end of the video and is cut there"),
    "subtitle_fast": (
        "subtitle too fast",
        "the line's subtitle cannot be read in its time: write a shorter `subtitle` for it in the script",
    ),
    "subtitle_rules": ("subtitle rules", "a subtitle cue of the line breaks a timed-text rule"),
    "ocr_asr": (
        "burned-in vs speech",
        "the subtitle burned into the source and the speech recognised under it disagree: a misread or an ad-lib",
    ),
    "loudness": ("loudness", "integrated loudness is outside the target tolerance"),
    "true_peak": ("true peak", "true peak is above the limit"),
    "av_duration": ("A/V duration", "the dubbed file's audio/video length differs from the original"),
}

THRESHOLD_LABELS = {
    "max_offset_frames": "max sync offset (frames)",
    "min_confidence": "min sync confidence",
    "max_wer": "max WER",
    "max_stretch": "max stretch (×)",
    "max_duration_ratio": "max duration ratio (×)",
    "max_start_shift_ms": "max start shift (ms)",
    "max_overflow_ms": "max overflow (ms)",
    "loudness_tolerance_lu": "loudness tolerance (LU)",
    "max_true_peak_dbtp": "max true peak (dBTP)",
    "target_lufs": "target loudness (LUFS)",
    "max_duration_diff_s": "max A/V duration difference (s)",
    "max_ocr_asr_cer": "max burned-in subtitle vs speech CER",
}

WORD = re.compile(r"\S+")


def render(report: Mapping[str, Any], out: Path) -> Path:
    """Write the HTML view of *report* to *out* (a directory: `report.html` inside it); return the file written."""
    out = Path(out)
    if out.is_dir():
        out = out / REPORT_NAME
    write_text_atomic(out, build_html(report))
    return out


def build_html(report: Mapping[str, Any]) -> str:
    """The whole document as a string."""
    seen = view.read(report)
    colours = charts.speaker_colours(seen.lines)
    return pages.render_page(
        TEMPLATE,
        report=seen,
        timeline=charts.timeline(seen),
        waveform=charts.waveform(seen),
        mouth=charts.mouth(seen),
        plot_width=charts.PLOT_WIDTH,
        flag_red=charts.FLAG_RED,
        speaker_colours=colours,
        speaker_keys=[("sw", f"background:{colour}", speaker) for speaker, colour in colours.items()],
        colours={
            "original": charts.ORIGINAL_COLOUR,
            "dubbed": charts.DUBBED_COLOUR,
            "opening": charts.OPENING_COLOUR,
            "envelope": charts.ENVELOPE_COLOUR,
        },
        thresholds=threshold_rows(seen.thresholds),
        flag_labels=FLAG_LABELS,
        anchor=line_anchor,
        sync_bound=lambda sync: sync_bound(sync, seen.thresholds),
        heard_words=heard_words,
        shows_subtitle=shows_subtitle,
    )


def line_anchor(line_id: str) -> str:
    return "line-" + re.sub(r"[^A-Za-z0-9_-]", "_", line_id)


def sync_bound(sync: view.Sync, thresholds: view.Thresholds) -> str:
    """The bounds the report found *sync* breaking, in words."""
    bounds = {
        "sync_offset": f"offset beyond ±{thresholds.max_offset_frames} frames",
        "sync_confidence": f"confidence below {thresholds.min_confidence}",
    }
    return "; ".join(bounds[flag] for flag in sync.flags if flag in bounds)


def threshold_rows(thresholds: view.Thresholds) -> list[tuple[str, str]]:
    """Each threshold's label and value (floats as short as they go)."""
    return [
        (THRESHOLD_LABELS.get(field.name, field.name), f"{value:g}" if isinstance(value, float) else str(value))
        for field in dataclasses.fields(thresholds)
        for value in [getattr(thresholds, field.name)]
    ]


def normalized_word(word: str) -> str:
    return re.sub(r"[^\w']", "", word.casefold())


def heard_words(line: view.Line) -> list[tuple[str, bool]]:
    """The re-transcribed words, each with whether it is missing from the translation (punctuation aside)."""
    wanted = [normalized_word(w) for w in WORD.findall(line.translation)]
    words = WORD.findall(line.heard)
    got = [normalized_word(w) for w in words]
    matched: set[int] = set()
    for block in difflib.SequenceMatcher(a=wanted, b=got, autojunk=False).get_matching_blocks():
        matched.update(range(block.b, block.b + block.size))
    return [(word, i not in matched and bool(got[i])) for i, word in enumerate(words)]


def shows_subtitle(line: view.Line) -> bool:
    """Whether the line's subtitle is worth a row: it is not the translation as it is, or it breaks a rule."""
    subtitle = line.subtitle
    return subtitle is not None and (subtitle.text != " ".join(line.translation.split()) or bool(subtitle.broken))
