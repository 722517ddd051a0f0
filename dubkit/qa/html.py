"""The human-facing QA report: one self-contained HTML file rendered from a `report.json` mapping.

`render(report, out)` writes `report.html` (see `report.schema.json` for the input): a header with the
episode verdicts (lines, loudness, A/V duration, sync before -> after), a timeline of the lines per speaker,
the waveform and mouth-vs-speech plots, sync per shot, and the per-line table. Everything is inline: CSS in a
`<style>`, plots as SVG built here, no script and nothing fetched from a URL, so the file opens offline and can be
mailed around. Links to sample clips are relative, as they are in the report. Every text taken from the
report is HTML-escaped.

Colour is never the only signal: each verdict also says "OK" or "FLAGGED", and each figure outside its
threshold carries a "!" marker and a tooltip naming the bound.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import quote

from dubkit.fsutil import write_text_atomic

VERSION = 1  # bump when a change here changes the bytes of a cache entry (see dubkit.cache)
REPORT_NAME = "report.html"

# Okabe-Ito colours minus vermillion (red is kept for flags), then greys.
SPEAKER_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#8C6D1F", "#5D5D5D", "#B8A000")
FLAG_RED = "#C62828"
ORIGINAL_COLOUR = "#5D6B7A"
DUBBED_COLOUR = "#0072B2"
OPENING_COLOUR = "#009E73"
ENVELOPE_COLOUR = "#E69F00"

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
    "loudness": ("loudness", "integrated loudness is outside the target tolerance"),
    "true_peak": ("true peak", "true peak is above the limit"),
    "av_duration": ("A/V duration", "the dubbed file's audio/video length differs from the original"),
}

# SVG geometry (user units; the SVGs scale to the page width).
PLOT_WIDTH = 1200
LABEL_WIDTH = 110
PLOT_RIGHT_PAD = 12
MAX_PLOT_POINTS = 1000


def render(report: Mapping[str, Any], out: Path) -> Path:
    """Write the HTML view of *report* to *out* (a directory: `report.html` inside it); return the file written."""
    out = Path(out)
    if out.is_dir():
        out = out / REPORT_NAME
    write_text_atomic(out, build_html(report))
    return out


def build_html(report: Mapping[str, Any]) -> str:
    """The whole document as a string."""
    title = f"QA report: {Path(str(report['dubbed'])).name}"
    body = "\n".join(
        [
            header_section(report),
            summary_section(report),
            timeline_section(report),
            plots_section(report),
            shots_section(report),
            lines_section(report),
            thresholds_section(report),
        ]
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(title)}</title>\n<style>{STYLE}</style>\n</head>\n"
        f'<body>\n<main class="page">\n{body}\n</main>\n</body>\n</html>\n'
    )


# ---------------------------------------------------------------------------------------------------------------
# Formatting helpers


def esc(value: object) -> str:
    """HTML-escape any value (quotes too, so the result is also safe inside attributes)."""
    return escape(str(value), quote=True)


NA = '<span class="na" title="not measured">—</span>'


def fmt_clock_ms(ms: float | None) -> str:
    """Milliseconds as m:ss.mmm (h:mm:ss.mmm from an hour on); None as an em dash."""
    if ms is None:
        return "—"
    sign = "−" if ms < 0 else ""
    total = int(round(abs(ms)))
    hours, rest = divmod(total, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    if hours:
        return f"{sign}{hours}:{minutes:02d}:{seconds:02d}.{millis:03d}"
    return f"{sign}{minutes}:{seconds:02d}.{millis:03d}"


def fmt_tick(seconds: float) -> str:
    """A time-axis label: m:ss (h:mm:ss from an hour on)."""
    total = int(round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def fmt_signed(value: float, decimals: int = 2, unit: str = "") -> str:
    text = f"{abs(value):.{decimals}f}"
    sign = "−" if value < 0 and float(text) != 0 else "+"
    return f"{sign}{text}{unit}"


def fmt_percent(fraction: float) -> str:
    percent = 100.0 * fraction
    if percent == 0 or percent >= 10:
        return f"{percent:.0f} %"
    return f"{percent:.1f} %"


def fmt_factor(value: float) -> str:
    return f"{value:.2f}×"


def fmt_span(span: Mapping[str, Any] | None) -> str:
    if span is None:
        return "—"
    return f"{fmt_clock_ms(span['start_ms'])} – {fmt_clock_ms(span['end_ms'])}"


def fmt_sync(sync: Mapping[str, Any] | None) -> str:
    if sync is None:
        return "no face"
    return f"{fmt_signed(sync['offset_frames'], 1)} fr · conf {sync['confidence']:.2f}"


def span_cell_html(span: Mapping[str, Any] | None) -> str:
    """A span for a table cell: start over end, so the time columns stay narrow."""
    if span is None:
        return NA
    return f"{fmt_clock_ms(span['start_ms'])}<br>– {fmt_clock_ms(span['end_ms'])}"


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def relative_href(path: str) -> str:
    """A report-relative file path as a safe relative URL: percent-encoded, so no scheme or host survives."""
    url = quote(path.replace("\\", "/"), safe="/-._~")
    return re.sub(r"^/+", "/", url)


def status_pill(ok: bool, ok_text: str = "OK", bad_text: str = "FLAGGED") -> str:
    if ok:
        return f'<span class="pill ok">✓ {esc(ok_text)}</span>'
    return f'<span class="pill bad">✗ {esc(bad_text)}</span>'


def flag_badges(flags: Iterable[str]) -> str:
    badges = []
    for flag in flags:
        label, why = FLAG_LABELS.get(flag, (flag, flag))
        badges.append(f'<span class="badge" title="{esc(why)}">{esc(label)}</span>')
    return " ".join(badges) or '<span class="none">none</span>'


def cell(content: str, bad: str | None = None, klass: str = "") -> str:
    """A table cell; *bad* (the bound it breaks) marks it as outside the thresholds, in text as well as colour."""
    classes = [klass] if klass else []
    title = ""
    if bad:
        classes.append("out")
        title = f' title="{esc(bad)}"'
        content = f'<span class="mark" aria-label="outside threshold">!</span> {content}'
    class_attr = f' class="{" ".join(classes)}"' if classes else ""
    return f"<td{class_attr}{title}>{content}</td>"


# ---------------------------------------------------------------------------------------------------------------
# Threshold checks (per figure, for highlighting; the report's own flags stay the verdict)


def above(value: float | None, limit: float) -> bool:
    """Stretch, duration ratio, overflow, WER: flagged above their limit (as `dubkit.qa.report` does)."""
    return value is not None and value > limit


def sync_problem(sync: Mapping[str, Any] | None, thresholds: Mapping[str, Any]) -> str | None:
    if sync is None:
        return None
    problems = []
    if abs(sync["offset_frames"]) > thresholds["max_offset_frames"]:
        problems.append(f"offset beyond ±{thresholds['max_offset_frames']} frames")
    if sync["confidence"] < thresholds["min_confidence"]:
        problems.append(f"confidence below {thresholds['min_confidence']}")
    return "; ".join(problems) or None


def start_shift_ms(line: Mapping[str, Any]) -> int | None:
    """The dubbed start against the planned one (the source line's in reports without a plan)."""
    planned = line.get("planned") or line["original"]
    if planned is None or line["dubbed"] is None:
        return None
    return int(line["dubbed"]["start_ms"]) - int(planned["start_ms"])


def line_sample(line: Mapping[str, Any], report: Mapping[str, Any]) -> str | None:
    if line.get("sample"):
        return str(line["sample"])
    for clip in report["samples"]["clips"]:
        if clip["line"] == line["id"]:
            return str(clip["path"])
    return None


def speaker_colours(lines: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    speakers: list[str] = []
    for line in lines:
        if line["speaker"] not in speakers:
            speakers.append(line["speaker"])
    return {speaker: SPEAKER_COLOURS[i % len(SPEAKER_COLOURS)] for i, speaker in enumerate(speakers)}


def line_anchor(line_id: str) -> str:
    return "line-" + re.sub(r"[^A-Za-z0-9_-]", "_", line_id)


# ---------------------------------------------------------------------------------------------------------------
# Header and summary


def header_section(report: Mapping[str, Any]) -> str:
    languages = report["languages"]
    flagged = report["episode"]["lines"]["flagged"]
    episode_flags = report["episode"]["flags"]
    ok = not flagged and not episode_flags
    total = report["episode"]["lines"]["total"]
    verdict = (
        "no flags"
        if ok
        else f"{flagged} of {plural(total, 'line')} flagged, {plural(len(episode_flags), 'episode flag')}"
    )
    script = report.get("script")
    script_row = f"<dt>Script</dt><dd><code>{esc(script)}</code></dd>" if script else ""
    side = report["samples"]["side_by_side"]
    side_row = (
        f'<dt>Side by side</dt><dd><a href="{esc(relative_href(side))}">{esc(side)}</a>'
        f'<details class="player"><summary>play here</summary>'
        f'<video controls preload="none" src="{esc(relative_href(side))}"></video></details></dd>'
        if side
        else ""
    )
    return f"""<header class="head">
<div class="title-row"><h1>QA report <span class="file">{esc(Path(str(report["dubbed"])).name)}</span></h1>
{status_pill(ok, "ALL OK", "NEEDS REVIEW")} <span class="verdict">{esc(verdict)}</span></div>
<dl class="meta">
<dt>Original</dt><dd><code>{esc(report["original"])}</code></dd>
<dt>Dubbed</dt><dd><code>{esc(report["dubbed"])}</code></dd>
<dt>Languages</dt><dd>{esc(languages["source"])} → {esc(languages["target"])}</dd>
{script_row}{side_row}
</dl>
</header>"""


def summary_card(title: str, ok: bool, rows: Sequence[tuple[str, str, str | None]], note: str = "") -> str:
    """One verdict box: *rows* are (label, value html, problem or None); a problem starting "~" is a warning."""
    items = []
    for label, value, problem in rows:
        warning = bool(problem) and problem.startswith("~")
        klass = (' class="warn"' if warning else ' class="out"') if problem else ""
        mark = '<span class="mark" aria-label="outside threshold">!</span> ' if problem and not warning else ""
        tooltip = f' title="{esc(problem.lstrip("~"))}"' if problem else ""
        items.append(f"<tr{klass}{tooltip}><th>{esc(label)}</th><td>{mark}{value}</td></tr>")
    note_html = f'<p class="note">{note}</p>' if note else ""
    state = "ok" if ok else "bad"
    return (
        f'<section class="card {state}"><div class="card-head"><h2>{esc(title)}</h2>{status_pill(ok)}</div>'
        f'<table class="kv">{"".join(items)}</table>{note_html}</section>'
    )


def lines_card(report: Mapping[str, Any]) -> str:
    counts = report["episode"]["lines"]
    flagged_lines = [line for line in report["lines"] if line["flags"]]
    links = ", ".join(
        f'<a href="#{line_anchor(line["id"])}">{esc(line["id"])}</a> '
        f'<span class="small">({esc(", ".join(FLAG_LABELS.get(f, (f, ""))[0] for f in line["flags"]))})</span>'
        for line in flagged_lines[:12]
    )
    if len(flagged_lines) > 12:
        links += f" … and {len(flagged_lines) - 12} more"
    rows = [
        ("Total", f"{counts['total']}", None),
        ("Flagged", f"{counts['flagged']}", "lines with flags" if counts["flagged"] else None),
    ]
    return summary_card("Lines", counts["flagged"] == 0, rows, links)


def loudness_card(report: Mapping[str, Any]) -> str:
    loudness = report["episode"]["loudness"]
    limits = report["thresholds"]
    flags = report["episode"]["flags"]
    target, tolerance = limits["target_lufs"], limits["loudness_tolerance_lu"]
    integrated_off = abs(loudness["integrated_lufs"] - target) > tolerance
    peak_off = loudness["true_peak_dbtp"] > limits["max_true_peak_dbtp"]
    rows = [
        (
            "Integrated",
            f"{loudness['integrated_lufs']:.1f} LUFS <span class='small'>target {target:.1f} ± {tolerance:g}</span>",
            f"more than {tolerance:g} LU from {target:g} LUFS" if integrated_off else None,
        ),
        ("Range (LRA)", f"{loudness['loudness_range_lu']:.1f} LU", None),
        (
            "True peak",
            f"{loudness['true_peak_dbtp']:.1f} dBTP "
            f"<span class='small'>limit {limits['max_true_peak_dbtp']:.1f}</span>",
            f"above {limits['max_true_peak_dbtp']:g} dBTP" if peak_off else None,
        ),
    ]
    ok = loudness["ok"] and "loudness" not in flags and "true_peak" not in flags
    return summary_card("Loudness", ok, rows)


def duration_card(report: Mapping[str, Any]) -> str:
    """The dubbed video against the original, the dubbed audio against the dubbed video (the original if none)."""
    duration = report["episode"]["duration"]
    limit = report["thresholds"]["max_duration_diff_s"]
    original, video = duration["original_s"], duration["video_s"]

    def row(label: str, seconds: float | None, reference: float, versus: str) -> tuple[str, str, str | None]:
        if seconds is None:
            return (label, '<span class="na">— (audio only)</span>', None)
        diff = seconds - reference
        text = f"{fmt_clock_ms(seconds * 1000)} <span class='small'>{fmt_signed(diff, 2, ' s')} vs {versus}</span>"
        return (label, text, f"differs from the {versus} by more than {limit:g} s" if abs(diff) > limit else None)

    rows = [
        ("Original", fmt_clock_ms(original * 1000), None),
        row("Dubbed video", video, original, "original"),
        row(
            "Dubbed audio",
            duration["audio_s"],
            video if video is not None else original,
            "video" if video is not None else "original",
        ),
    ]
    ok = duration["ok"] and "av_duration" not in report["episode"]["flags"]
    return summary_card("A/V duration", ok, rows, f"allowed difference ± {limit:g} s")


def sync_card(report: Mapping[str, Any]) -> str:
    sync = report["episode"]["sync"]
    limits = report["thresholds"]
    after_problem = sync_problem(sync["after"], limits)
    before_problem = sync_problem(sync["before"], limits)
    rows = [
        ("Before", fmt_sync(sync["before"]), f"~{before_problem} (before re-sync)" if before_problem else None),
        ("After", fmt_sync(sync["after"]), after_problem),
    ]
    flags = report["episode"]["flags"]
    ok = after_problem is None and "sync_offset" not in flags and "sync_confidence" not in flags
    note = (
        f"offset in frames, + = sound late; allowed ± {limits['max_offset_frames']:g} fr, "
        f"confidence ≥ {limits['min_confidence']:g}. Before = original picture, after = dubbed picture."
    )
    return summary_card("Episode sync", ok, rows, esc(note))


def summary_section(report: Mapping[str, Any]) -> str:
    episode_flags = report["episode"]["flags"]
    flags_html = f'<p class="episode-flags">Episode flags: {flag_badges(episode_flags)}</p>' if episode_flags else ""
    cards = [lines_card(report), loudness_card(report), duration_card(report), sync_card(report)]
    return f'<section class="summary">{"".join(cards)}</section>{flags_html}'


# ---------------------------------------------------------------------------------------------------------------
# SVG plots


def episode_length_s(report: Mapping[str, Any]) -> float:
    """The time axis: long enough for the media, every line and every plot point."""
    duration = report["episode"]["duration"]
    ends = [duration["original_s"], duration["audio_s"], duration["video_s"] or 0.0]
    for line in report["lines"]:
        for span in (line["original"], line["dubbed"]):
            if span is not None:
                ends.append(span["end_ms"] / 1000.0)
    waveform = report["plots"]["waveform"]
    ends.append(waveform["bin_s"] * max(len(waveform["original"]), len(waveform["dubbed"])))
    times = report["plots"]["mouth"]["times_s"]
    if times:
        ends.append(max(times))
    return max(max(ends), 1.0)


def tick_step_s(length_s: float, target_ticks: int = 10) -> float:
    for step in (0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600):
        if length_s / step <= target_ticks:
            return float(step)
    return 3600.0 * math.ceil(length_s / 3600 / target_ticks)


class TimeAxis:
    """Maps episode seconds onto the SVG's x range (after the label column)."""

    def __init__(self, length_s: float) -> None:
        self.length_s = length_s
        self.x0 = LABEL_WIDTH
        self.x1 = PLOT_WIDTH - PLOT_RIGHT_PAD

    def x(self, seconds: float) -> float:
        return self.x0 + (self.x1 - self.x0) * min(max(seconds, 0.0), self.length_s) / self.length_s

    def ticks(self, top: float, bottom: float) -> str:
        """Grid lines from *top* to *bottom* and time labels under them."""
        step = tick_step_s(self.length_s)
        parts = []
        count = int(self.length_s / step + 1e-9)
        for i in range(count + 1):
            x = self.x(i * step)
            parts.append(f'<line class="grid" x1="{x:.1f}" y1="{top:.1f}" x2="{x:.1f}" y2="{bottom:.1f}"/>')
            parts.append(f'<text class="tick" x="{x:.1f}" y="{bottom + 14:.1f}">{fmt_tick(i * step)}</text>')
        return "".join(parts)


def svg_open(height: float, label: str, klass: str = "plot") -> str:
    return (
        f'<svg class="{klass}" viewBox="0 0 {PLOT_WIDTH} {height:.0f}" role="img" '
        f'aria-label="{esc(label)}" preserveAspectRatio="xMidYMid meet">'
    )


def stretch_height(stretch: float | None, max_stretch: float, row_height: float) -> float:
    """Bar height in a timeline row: a third of the row at no stretch, the full row at the limit or beyond."""
    if stretch is None or stretch <= 0:
        return row_height * 0.33
    amount = abs(math.log(stretch))
    limit = abs(math.log(max_stretch)) or 1.0
    return row_height * (0.33 + 0.67 * min(amount / limit, 1.0))


def line_tooltip(line: Mapping[str, Any]) -> str:
    parts = [
        f"{line['id']} · {line['speaker']}",
        f"original {fmt_span(line['original'])}",
        f"dubbed {fmt_span(line['dubbed'])}",
        f"stretch {fmt_factor(line['stretch']) if line['stretch'] is not None else '—'}",
        f"flags: {', '.join(line['flags']) or 'none'}",
        line["translation"],
    ]
    return "\n".join(parts)


def timeline_svg(report: Mapping[str, Any]) -> str:
    lines = report["lines"]
    colours = speaker_colours(lines)
    speakers = list(colours)
    axis = TimeAxis(episode_length_s(report))
    row_height, gap, top = 30.0, 8.0, 16.0
    bottom = top + max(len(speakers), 1) * (row_height + gap)
    max_stretch = report["thresholds"]["max_stretch"]
    parts = [svg_open(bottom + 24, "timeline of the lines per speaker", "plot timeline"), axis.ticks(top - 6, bottom)]
    for row, speaker in enumerate(speakers):
        y = top + row * (row_height + gap)
        parts.append(
            f'<rect class="lane" x="{axis.x0}" y="{y:.1f}" width="{axis.x1 - axis.x0}" height="{row_height}"/>'
        )
        parts.append(
            f'<text class="lane-label" x="{axis.x0 - 8}" y="{y + row_height / 2 + 4:.1f}" '
            f'fill="{colours[speaker]}">{esc(speaker[:16])}</text>'
        )
    for line in lines:
        parts.append(
            timeline_bar(
                line,
                axis,
                top + speakers.index(line["speaker"]) * (row_height + gap),
                row_height,
                colours[line["speaker"]],
                max_stretch,
            )
        )
    parts.append("</svg>")
    return "".join(parts)


def timeline_bar(
    line: Mapping[str, Any], axis: TimeAxis, lane_y: float, row_height: float, colour: str, max_stretch: float
) -> str:
    """One line: its source slot as a faint outline, the dubbed speech as a bar whose height is the stretch."""
    parts = [f'<a href="#{line_anchor(line["id"])}"><title>{esc(line_tooltip(line))}</title>']
    if line["original"] is not None:
        x0, x1 = axis.x(line["original"]["start_ms"] / 1000), axis.x(line["original"]["end_ms"] / 1000)
        parts.append(
            f'<rect class="slot" x="{x0:.1f}" y="{lane_y + 1:.1f}" width="{max(x1 - x0, 1):.1f}" '
            f'height="{row_height - 2:.1f}" stroke="{colour}"/>'
        )
    span = line["dubbed"] or line["original"]
    if span is not None:
        x0, x1 = axis.x(span["start_ms"] / 1000), axis.x(span["end_ms"] / 1000)
        height = stretch_height(line["stretch"], max_stretch, row_height)
        y = lane_y + row_height - height
        flagged = f' stroke="{FLAG_RED}" stroke-width="2.5"' if line["flags"] else ""
        opacity = "0.25" if line["dubbed"] is None else "0.9"
        parts.append(
            f'<rect class="bar" x="{x0:.1f}" y="{y:.1f}" width="{max(x1 - x0, 2):.1f}" height="{height:.1f}" '
            f'fill="{colour}" fill-opacity="{opacity}"{flagged}/>'
        )
        if line["flags"]:
            mid = (x0 + x1) / 2
            parts.append(
                f'<path class="flag-mark" d="M{mid - 5:.1f},{lane_y - 7:.1f} L{mid + 5:.1f},{lane_y - 7:.1f} '
                f'L{mid:.1f},{lane_y:.1f} Z" fill="{FLAG_RED}"/>'
            )
    parts.append("</a>")
    return "".join(parts)


def bucket_peaks(values: Sequence[float], count: int) -> list[float]:
    """*values* reduced to at most *count* points, keeping each bucket's peak (a waveform stays honest)."""
    if len(values) <= count:
        return [float(v) for v in values]
    size = len(values) / count
    return [max(values[int(i * size) : max(int((i + 1) * size), int(i * size) + 1)]) for i in range(count)]


def bucket_means(
    times: Sequence[float], values: Sequence[float | None], count: int
) -> list[tuple[float, float | None]]:
    """(time, value) reduced to at most *count* points by averaging; a bucket with no value stays None (a gap)."""
    points = list(zip(times, values, strict=False))
    if len(points) <= count:
        return [(float(t), None if v is None else float(v)) for t, v in points]
    size = len(points) / count
    reduced = []
    for i in range(count):
        bucket = points[int(i * size) : max(int((i + 1) * size), int(i * size) + 1)]
        present = [v for _, v in bucket if v is not None]
        reduced.append((bucket[0][0], sum(present) / len(present) if present else None))
    return reduced


def flagged_bands(report: Mapping[str, Any], axis: TimeAxis, top: float, bottom: float) -> str:
    """Light red bands behind a plot where flagged lines are, so the plots and the timeline line up by eye."""
    parts = []
    for line in report["lines"]:
        span = line["dubbed"] or line["original"]
        if line["flags"] and span is not None:
            x0, x1 = axis.x(span["start_ms"] / 1000), axis.x(span["end_ms"] / 1000)
            parts.append(
                f'<rect class="band" x="{x0:.1f}" y="{top:.1f}" width="{max(x1 - x0, 1):.1f}" '
                f'height="{bottom - top:.1f}"><title>{esc(line["id"])}: {esc(", ".join(line["flags"]))}</title></rect>'
            )
    return "".join(parts)


def envelope_path(peaks: Sequence[float], bin_s: float, axis: TimeAxis, centre: float, half: float) -> str:
    """A closed path: the peaks above *centre* left to right, mirrored below right to left."""
    if not peaks:
        return ""
    step = bin_s * max(len(peaks), 1) / len(peaks)
    upper = [(axis.x(i * step), centre - half * min(max(p, 0.0), 1.0)) for i, p in enumerate(peaks)]
    upper.append((axis.x(len(peaks) * step), upper[-1][1]))
    lower = [(x, 2 * centre - y) for x, y in reversed(upper)]
    coords = " L".join(f"{x:.1f},{y:.1f}" for x, y in upper + lower)
    return f"M{coords} Z"


def waveform_svg(report: Mapping[str, Any]) -> str:
    waveform = report["plots"]["waveform"]
    axis = TimeAxis(episode_length_s(report))
    row_height, gap, top = 70.0, 14.0, 8.0
    bottom = top + 2 * row_height + gap
    parts = [svg_open(bottom + 24, "waveform: original and dubbed peak level"), axis.ticks(top, bottom)]
    parts.append(flagged_bands(report, axis, top, bottom))
    for row, (name, colour) in enumerate((("original", ORIGINAL_COLOUR), ("dubbed", DUBBED_COLOUR))):
        values = waveform[name]
        bins = len(values)
        peaks = bucket_peaks(values, MAX_PLOT_POINTS)
        bin_s = waveform["bin_s"] * bins / max(len(peaks), 1)
        y = top + row * (row_height + gap)
        centre = y + row_height / 2
        parts.append(f'<line class="axis" x1="{axis.x0}" y1="{centre:.1f}" x2="{axis.x1}" y2="{centre:.1f}"/>')
        parts.append(
            f'<path d="{envelope_path(peaks, bin_s, axis, centre, row_height / 2 - 2)}" fill="{colour}" '
            f'fill-opacity="0.85"/>'
        )
        parts.append(f'<text class="lane-label" x="{axis.x0 - 8}" y="{centre + 4:.1f}" fill="{colour}">{name}</text>')
    parts.append("</svg>")
    return "".join(parts)


def polyline_segments(points: Sequence[tuple[float, float | None]], axis: TimeAxis, top: float, height: float) -> str:
    """An SVG path through the points, broken (a new M) at every None."""
    commands, pen_down = [], False
    for t, v in points:
        if v is None:
            pen_down = False
            continue
        x, y = axis.x(t), top + height * (1.0 - min(max(v, 0.0), 1.0))
        commands.append(f"{'L' if pen_down else 'M'}{x:.1f},{y:.1f}")
        pen_down = True
    return " ".join(commands)


def no_face_bands(points: Sequence[tuple[float, float | None]], axis: TimeAxis, top: float, bottom: float) -> str:
    """Hatched bands where the mouth opening is missing (no face in view)."""
    parts, start = [], None
    for i, (t, v) in enumerate(points):
        if v is None and start is None:
            start = t
        end_of_gap = start is not None and (v is not None or i == len(points) - 1)
        if end_of_gap:
            x0, x1 = axis.x(start), axis.x(t)
            parts.append(
                f'<rect class="noface" x="{x0:.1f}" y="{top:.1f}" width="{max(x1 - x0, 1):.1f}" '
                f'height="{bottom - top:.1f}"><title>no face in view</title></rect>'
            )
            start = None
    return "".join(parts)


def mouth_svg(report: Mapping[str, Any]) -> str:
    mouth = report["plots"]["mouth"]
    axis = TimeAxis(episode_length_s(report))
    top, height = 8.0, 130.0
    bottom = top + height
    opening = bucket_means(mouth["times_s"], mouth["opening"], MAX_PLOT_POINTS)
    envelope = bucket_means(mouth["times_s"], mouth["envelope"], MAX_PLOT_POINTS)
    parts = [
        svg_open(bottom + 24, "mouth opening against the dubbed speech envelope"),
        axis.ticks(top, bottom),
        flagged_bands(report, axis, top, bottom),
        no_face_bands(opening, axis, top, bottom),
        f'<line class="axis" x1="{axis.x0}" y1="{bottom:.1f}" x2="{axis.x1}" y2="{bottom:.1f}"/>',
        f'<path class="trace" d="{polyline_segments(envelope, axis, top, height)}" stroke="{ENVELOPE_COLOUR}"/>',
        f'<path class="trace" d="{polyline_segments(opening, axis, top, height)}" stroke="{OPENING_COLOUR}"/>',
        f'<text class="lane-label" x="{axis.x0 - 8}" y="{top + 10:.1f}">1</text>',
        f'<text class="lane-label" x="{axis.x0 - 8}" y="{bottom:.1f}">0</text>',
        "</svg>",
    ]
    return "".join(parts)


def legend(items: Sequence[tuple[str, str]]) -> str:
    """Legend entries: (swatch class + style, label html)."""
    return '<p class="legend">' + " ".join(f'<span class="key"><i {s}></i>{t}</span>' for s, t in items) + "</p>"


def timeline_section(report: Mapping[str, Any]) -> str:
    colours = speaker_colours(report["lines"])
    items = [(f'class="sw" style="background:{c}"', esc(s)) for s, c in colours.items()]
    items += [
        ('class="sw slot-key"', "source slot (outline)"),
        ('class="sw flag-key"', "flagged line (red outline + ▼)"),
    ]
    return (
        '<section class="panel"><h2>Timeline</h2>'
        '<p class="help">One bar per dubbed line, one row per speaker. Bar height = time-stretch: a third of the row '
        "at none, the full row at the limit. Click a bar to jump to its row.</p>"
        f"{timeline_svg(report)}{legend(items)}</section>"
    )


def plots_section(report: Mapping[str, Any]) -> str:
    waveform_legend = legend(
        [
            (f'class="sw" style="background:{ORIGINAL_COLOUR}"', "original"),
            (f'class="sw" style="background:{DUBBED_COLOUR}"', "dubbed"),
            ('class="sw band-key"', "flagged line"),
        ]
    )
    mouth_legend = legend(
        [
            (f'class="ln" style="background:{OPENING_COLOUR}"', "mouth opening (dubbed picture)"),
            (f'class="ln" style="background:{ENVELOPE_COLOUR}"', "speech envelope (dubbed sound)"),
            ('class="sw noface-key"', "no face in view"),
            ('class="sw band-key"', "flagged line"),
        ]
    )
    return (
        '<section class="panel"><h2>Waveform</h2><p class="help">Peak level per '
        f"{report['plots']['waveform']['bin_s']:.3g} s bin, 0..1, mirrored.</p>"
        f"{waveform_svg(report)}{waveform_legend}</section>"
        '<section class="panel"><h2>Mouth vs speech</h2><p class="help">Both scaled to 0..1; they should rise and '
        "fall together. Gaps: no face.</p>"
        f"{mouth_svg(report)}{mouth_legend}</section>"
    )


# ---------------------------------------------------------------------------------------------------------------
# The per-line table

WORD = re.compile(r"\S+")


def normalized_word(word: str) -> str:
    return re.sub(r"[^\w']", "", word.casefold())


def heard_with_misses(translation: str, heard: str) -> str:
    """The re-transcribed text, escaped, with the words that do not match the translation marked."""
    wanted = [normalized_word(w) for w in WORD.findall(translation)]
    words = WORD.findall(heard)
    got = [normalized_word(w) for w in words]
    matched: set[int] = set()
    for block in difflib.SequenceMatcher(a=wanted, b=got, autojunk=False).get_matching_blocks():
        matched.update(range(block.b, block.b + block.size))
    return " ".join(
        esc(word)
        if i in matched or not got[i]
        else f'<span class="miss" title="not in the translation">{esc(word)}</span>'
        for i, word in enumerate(words)
    )


def text_cell(line: Mapping[str, Any], languages: Mapping[str, Any], wer_bad: bool) -> str:
    heard = heard_with_misses(line["translation"], line["asr"]["text"]) if line["asr"]["text"] else NA
    heard_class = "heard out-text" if wer_bad else "heard"
    return (
        '<td class="texts">'
        f'<div class="src"><span class="lang">{esc(languages["source"])}</span>{esc(line["text"])}</div>'
        f'<div class="mt"><span class="lang">{esc(languages["target"])}</span>{esc(line["translation"])}</div>'
        f'<div class="{heard_class}"><span class="lang">heard</span>{heard}</div>'
        f"{subtitle_div(line)}"
        "</td>"
    )


def subtitle_div(line: Mapping[str, Any]) -> str:
    """The line's subtitle where it is not the translation as it is, or breaks a rule: its text, whether it was
    condensed, and each broken rule's figure (reading speed in characters a second)."""
    subtitle = line.get("subtitle")
    if not subtitle or (subtitle["text"] == " ".join(line["translation"].split()) and not subtitle["broken"]):
        return ""
    notes = ['<span class="small">(condensed)</span>'] if subtitle["condensed"] else []
    for broken in subtitle["broken"]:
        if broken["rule"] == "max_chars_per_second":
            figure = f"reading speed {broken['value']:.1f} cps (max {broken['limit']:g})"
        else:
            figure = f"{esc(broken['rule'])} {broken['value']:g} (limit {broken['limit']:g})"
        notes.append(f'<span class="small out-text" title="cue at {fmt_clock_ms(broken["start_ms"])}">{figure}</span>')
    if subtitle["broken"]:
        advice = "write a shorter <code>subtitle</code> in the script for this line (or a neighbour sharing its time)"
        notes.append(f'<span class="small">— {advice}</span>')
    return f'<div class="sub"><span class="lang">subs</span>{esc(subtitle["text"])} {" ".join(notes)}</div>'


def sample_cell(sample: str | None) -> str:
    if not sample:
        return f"<td>{NA}</td>"
    href = esc(relative_href(sample))
    return (
        f'<td class="clip"><a href="{href}" title="{esc(sample)}">clip</a>'
        f'<details class="player"><summary>play</summary><video controls preload="none" src="{href}"></video>'
        "</details></td>"
    )


def line_row(line: Mapping[str, Any], report: Mapping[str, Any], colour: str) -> str:
    limits = report["thresholds"]
    wer = line["asr"]["wer"]
    wer_bad = wer > limits["max_wer"]
    shift = start_shift_ms(line)
    shift_bad = "start_shift" in line["flags"]
    dubbed_text = span_cell_html(line["dubbed"]) if line["dubbed"] is not None else "— none heard"
    if shift is not None:
        dubbed_text += (
            f'<br><span class="small" title="start against the planned start">Δ {fmt_signed(shift, 0, " ms")}</span>'
        )
    cells = [
        f'<td class="id"><a href="#{line_anchor(line["id"])}">{esc(line["id"])}</a></td>',
        f'<td class="speaker"><i class="dot" style="background:{colour}"></i>{esc(line["speaker"])}</td>',
        cell(span_cell_html(line["original"]), klass="time"),
        cell(
            dubbed_text,
            "no dubbed speech heard"
            if line["dubbed"] is None
            else (f"start more than {limits['max_start_shift_ms']} ms from its planned start" if shift_bad else None),
            "time",
        ),
        text_cell(line, report["languages"], wer_bad),
        cell(fmt_percent(wer), f"above {fmt_percent(limits['max_wer'])}" if wer_bad else None, "num"),
        factor_cell(line["stretch"], limits["max_stretch"], "stretch"),
        cell(fmt_factor(line["speed"]) if line["speed"] is not None else NA, klass="num"),
        overflow_cell(line["overflow_ms"], limits["max_overflow_ms"]),
        factor_cell(line["duration_ratio"], limits["max_duration_ratio"], "duration ratio"),
        sync_cell(line["sync"]["before"], limits, after=False, heard=line["dubbed"] is not None),
        sync_cell(line["sync"]["after"], limits, after=True, heard=line["dubbed"] is not None),
        f'<td class="flags">{flag_badges(line["flags"]) if line["flags"] else status_pill(True)}</td>',
        sample_cell(line_sample(line, report)),
    ]
    klass = ' class="flagged"' if line["flags"] else ""
    return f'<tr id="{line_anchor(line["id"])}"{klass}>{"".join(cells)}</tr>'


def factor_cell(value: float | None, limit: float, name: str) -> str:
    if value is None:
        return cell(NA, klass="num")
    bad = f"{name} above {limit:g}×" if above(value, limit) else None
    return cell(fmt_factor(value), bad, "num")


def overflow_cell(overflow_ms: int | None, limit: int) -> str:
    if overflow_ms is None:
        return cell(NA, klass="num")
    bad = f"more than {limit} ms past the slot" if overflow_ms > limit else None
    return cell(f"{overflow_ms} ms", bad, "num")


def sync_cell(sync: Mapping[str, Any] | None, limits: Mapping[str, Any], after: bool, heard: bool = True) -> str:
    if sync is None:
        # Null sync means no face in view; with no dubbed speech heard there was nothing to measure anyway.
        text = "no face" if heard else "not measured"
        return cell(f'<span class="na">{text}</span>', klass="sync")
    problem = sync_problem(sync, limits)
    text = f"{fmt_signed(sync['offset_frames'], 1)} fr<br><span class='small'>conf {sync['confidence']:.2f}</span>"
    if problem and not after:
        # Before is the undubbed picture: informative, expected to be off, so shown in amber, not as a fault.
        return f'<td class="sync warn" title="{esc(problem)} (before re-sync)">{text}</td>'
    return cell(text, problem, "sync")


TABLE_HEAD = (
    "<thead><tr>"
    "<th>Line</th><th>Speaker</th><th>Original</th><th>Dubbed</th>"
    "<th>Text: source / translation / heard (re-ASR)</th>"
    "<th>WER</th><th>Stretch</th><th>Speed</th><th>Overflow</th><th>Dur. ratio</th>"
    '<th title="original picture against the dubbed speech; + = sound late">Sync before</th>'
    '<th title="dubbed picture against the dubbed speech; + = sound late">Sync after</th>'
    "<th>Flags</th><th>Clip</th>"
    "</tr></thead>"
)


def shots_section(report: Mapping[str, Any]) -> str:
    """Sync over each whole shot, cut to cut: a shot the re-sync missed shows even where its lines are short."""
    shots = report["shots"]
    if not shots:
        return ""
    limits = report["thresholds"]
    rows = "\n".join(
        f"<tr><td>{shot['index'] + 1}</td>"
        f"<td>{fmt_clock_ms(1000 * shot['start_s'])} – {fmt_clock_ms(1000 * shot['end_s'])}</td>"
        f"{sync_cell(shot['sync']['before'], limits, after=False, heard=False)}"
        f"{sync_cell(shot['sync']['after'], limits, after=True, heard=False)}</tr>"
        for shot in shots
    )
    return (
        f'<section class="panel shots-panel"><h2>Shots <span class="small">{plural(len(shots), "shot")}</span></h2>'
        '<p class="help">Sync over each whole shot, cut to cut, of the face that follows the dubbed speech best: '
        "offset in frames (+ = sound late) and confidence. Not measured: no face in view, or under a second.</p>"
        '<table class="lines shots"><thead><tr><th>Shot</th><th>Span</th>'
        '<th title="original picture against the dubbed speech">Sync before</th>'
        '<th title="dubbed picture against the dubbed speech">Sync after</th>'
        f"</tr></thead><tbody>\n{rows}\n</tbody></table></section>"
    )


def lines_section(report: Mapping[str, Any]) -> str:
    colours = speaker_colours(report["lines"])
    rows = "\n".join(line_row(line, report, colours[line["speaker"]]) for line in report["lines"])
    flagged = sum(1 for line in report["lines"] if line["flags"])
    return (
        f'<section class="panel lines-panel"><h2>Lines <span class="small">{len(report["lines"])} lines, '
        f"{flagged} flagged</span></h2>"
        '<input type="checkbox" id="only-flagged" class="toggle"><label for="only-flagged">show flagged lines only'
        "</label>"
        '<p class="help">Flagged rows are tinted red. A cell marked <span class="mark">!</span> is outside its '
        "threshold (hover for the bound); amber sync-before cells were off before re-sync. Sync: offset in frames "
        "(+ = sound late) and confidence. Δ: dubbed start against the planned one. Underlined words were heard but "
        "are not in the translation.</p>"
        f'<table class="lines" id="lines">{TABLE_HEAD}<tbody>\n{rows}\n</tbody></table></section>'
    )


def thresholds_section(report: Mapping[str, Any]) -> str:
    labels = {
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
    }
    items = "".join(
        f"<div><dt>{esc(labels.get(key, key))}</dt><dd>{esc(f'{value:g}' if isinstance(value, float) else value)}</dd>"
        "</div>"
        for key, value in report["thresholds"].items()
    )
    return (
        '<section class="panel"><details open><summary><h2>Thresholds</h2></summary>'
        f'<dl class="thresholds">{items}</dl></details>'
        f'<p class="small foot">schema {esc(report["schema"])}</p></section>'
    )


STYLE = """
:root { --fg:#1b1f24; --muted:#57606a; --line:#d0d7de; --bg:#f6f8fa; --ok:#1a7f37; --ok-bg:#dafbe1;
  --bad:#c62828; --bad-bg:#ffebe9; --warn:#9a6700; --warn-bg:#fff8c5; }
* { box-sizing: border-box; }
body { margin:0; color:var(--fg); background:#fff; font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,
  "Helvetica Neue",Arial,"Noto Sans",sans-serif; }
.page { max-width:1600px; margin:0 auto; padding:16px 16px 40px; }
h1 { font-size:22px; margin:0; } h2 { font-size:16px; margin:0 0 6px; }
code { font:12.5px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace; background:var(--bg); padding:1px 4px;
  border-radius:4px; word-break:break-all; }
a { color:#0550ae; }
.head { border-bottom:1px solid var(--line); padding-bottom:10px; margin-bottom:12px; }
.title-row { display:flex; align-items:center; gap:12px; flex-wrap:wrap; }
.file { font-weight:400; color:var(--muted); }
.verdict { color:var(--muted); }
.meta { display:grid; grid-template-columns:max-content 1fr; gap:2px 12px; margin:8px 0 0; }
.meta dt { color:var(--muted); } .meta dd { margin:0; }
.pill { display:inline-block; padding:1px 9px; border-radius:999px; font-weight:700; font-size:12px;
  letter-spacing:.02em; white-space:nowrap; }
.pill.ok { color:var(--ok); background:var(--ok-bg); border:1px solid #8fd19e; }
.pill.bad { color:#fff; background:var(--bad); border:1px solid var(--bad); }
.summary { display:grid; grid-template-columns:repeat(auto-fit,minmax(260px,1fr)); gap:12px; }
.card { border:1px solid var(--line); border-top:5px solid var(--ok); border-radius:8px; padding:10px 12px; }
.card.bad { border-top-color:var(--bad); background:#fffafa; }
.card-head { display:flex; justify-content:space-between; align-items:center; }
.card h2 { margin:0; }
.kv { width:100%; border-collapse:collapse; margin-top:6px; }
.kv th { text-align:left; font-weight:500; color:var(--muted); padding:2px 8px 2px 0; white-space:nowrap; }
.kv td { text-align:right; padding:2px 0; font-variant-numeric:tabular-nums; }
.kv tr.out td { color:var(--bad); font-weight:700; }
.kv tr.warn td { color:var(--warn); }
.note { margin:6px 0 0; font-size:12px; color:var(--muted); }
.small { font-size:12px; color:var(--muted); font-weight:400; }
.episode-flags { margin:10px 0 0; }
.badge { display:inline-block; margin:1px 2px; padding:0 7px; border-radius:4px; font-size:12px; font-weight:600;
  color:var(--bad); background:var(--bad-bg); border:1px solid #ffaba8; white-space:nowrap; }
.none { color:var(--muted); }
.panel { margin-top:18px; }
.help { margin:0 0 6px; color:var(--muted); font-size:12.5px; }
svg.plot { display:block; width:100%; height:auto; background:#fff; }
svg .grid { stroke:#e4e8ec; stroke-width:1; }
svg .axis { stroke:#aab2bb; stroke-width:1; }
svg .tick { font-size:11px; fill:var(--muted); text-anchor:middle; }
svg .lane { fill:#f3f5f7; }
svg .lane-label { font-size:12px; font-weight:600; text-anchor:end; fill:var(--muted); }
svg .slot { fill:none; stroke-width:1; stroke-dasharray:3 2; opacity:.7; }
svg .band { fill:var(--bad); fill-opacity:.08; }
svg .noface { fill:#9aa4ae; fill-opacity:.18; }
svg .trace { fill:none; stroke-width:1.6; stroke-linejoin:round; }
svg a:hover .bar { fill-opacity:1; stroke:#000; }
.legend { margin:4px 0 0 110px; font-size:12.5px; color:var(--muted); display:flex; flex-wrap:wrap; gap:4px 16px; }
.key { display:inline-flex; align-items:center; gap:6px; }
.key i { display:inline-block; }
.sw { width:14px; height:12px; border-radius:2px; }
.ln { width:18px; height:3px; }
.slot-key { border:1px dashed var(--muted); }
.flag-key { border:2.5px solid var(--bad); }
.band-key { background:rgba(198,40,40,.15); }
.noface-key { background:rgba(154,164,174,.35); }
.toggle { margin:0 6px 8px 0; }
.toggle:checked ~ table.lines tbody tr:not(.flagged) { display:none; }
table.lines { width:100%; border-collapse:separate; border-spacing:0; font-size:13px; }
table.lines th { position:sticky; top:0; z-index:2; background:#eef1f4; text-align:left; font-weight:600;
  padding:6px 5px; border-bottom:2px solid var(--line); vertical-align:bottom; }
table.lines td { padding:6px 5px; border-bottom:1px solid var(--line); vertical-align:top; }
table.lines tbody tr:nth-child(even) td { background:#fafbfc; }
table.lines tbody tr.flagged td { background:#fff3f2; }
table.lines tbody tr.flagged td:first-child { box-shadow:inset 4px 0 0 var(--bad); }
table.lines tbody tr:target td { outline:2px solid #0969da; outline-offset:-2px; }
td.id { font-weight:700; white-space:nowrap; }
td.speaker { white-space:nowrap; }
.dot { display:inline-block; width:9px; height:9px; border-radius:50%; margin-right:5px; }
td.time, td.num, td.sync { white-space:nowrap; font-variant-numeric:tabular-nums; }
td.num { text-align:right; }
td.out, table.lines tbody tr td.out { background:#ffd7d5 !important; color:#8b0000; font-weight:700; }
td.warn, table.lines tbody tr td.warn { background:var(--warn-bg) !important; color:var(--warn); }
.mark { display:inline-block; min-width:14px; padding:0 3px; border-radius:3px; background:var(--bad); color:#fff;
  font-weight:800; font-size:11px; text-align:center; }
td.texts { min-width:260px; }
td.texts div { margin:1px 0; overflow-wrap:anywhere; }
.lang { display:inline-block; min-width:44px; margin-right:6px; font-size:11px; color:var(--muted);
  text-transform:uppercase; }
.mt { font-weight:600; }
.heard { color:#333; font-style:italic; }
.heard.out-text, .sub .out-text { color:#8b0000; }
.miss { text-decoration:underline wavy var(--bad); text-underline-offset:3px; }
.na { color:#8c959f; }
td.flags { min-width:90px; }
td.flags .badge { display:block; width:max-content; margin:2px 0; }
td.clip { white-space:nowrap; }
td.clip video { width:220px; display:block; margin-top:4px; }
.player summary { cursor:pointer; color:#0550ae; font-size:12px; }
.head .player video { max-width:640px; display:block; }
.thresholds { display:grid; grid-template-columns:repeat(auto-fill,minmax(260px,1fr)); gap:4px 20px; }
.thresholds div { display:flex; justify-content:space-between; border-bottom:1px dotted var(--line); }
.thresholds dt { color:var(--muted); } .thresholds dd { margin:0; font-variant-numeric:tabular-nums; }
details > summary h2 { display:inline; }
.foot { margin-top:10px; }
@media print { .toggle, .toggle + label { display:none; } }
"""
