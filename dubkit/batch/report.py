"""The batch report: `batch.json` and a self-contained `batch.html` (per episode × language: status, attempts,
seconds, cache hits, QA flags where the review report exists, the reason of a failure)."""

from __future__ import annotations

import html
import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dubkit.batch.catalog import Catalog
from dubkit.batch.ledger import Entry
from dubkit.fsutil import write_text_atomic

STATUS_ORDER = ("done", "running", "pending", "failed", "quarantined", "invalid")


def build(catalog: Catalog, items: Sequence[Any], entries: Sequence[Entry], outdir: Path) -> dict[str, Any]:
    found = {entry.item: entry for entry in entries}
    rows = [_row(item, found.get(item.key)) for item in items]
    rows += [
        {"episode": bad.episode, "language": "", "status": "invalid", "error": f"line {bad.line}: {bad.reason}"}
        for bad in catalog.invalid
    ]
    totals = {status: sum(r["status"] == status for r in rows) for status in STATUS_ORDER}
    return {
        "catalog": str(catalog.path),
        "outdir": str(outdir),
        "written": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "totals": {k: v for k, v in totals.items() if v} | {"items": len(rows)},
        "items": rows,
    }


def write(report: Mapping[str, Any], outdir: Path) -> tuple[Path, Path]:
    paths = (Path(outdir) / "batch.json", Path(outdir) / "batch.html")
    write_text_atomic(paths[0], json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    write_text_atomic(paths[1], to_html(report))
    return paths


def failed(report: Mapping[str, Any]) -> int:
    """Items that did not end done: failed, quarantined or invalid (interrupted ones count as not failed)."""
    return sum(report["totals"].get(status, 0) for status in ("failed", "quarantined", "invalid"))


def _row(item: Any, entry: Entry | None) -> dict[str, Any]:
    entry = entry or Entry(item.row.episode, item.language, "pending")
    stages = entry.stages or {}
    row = {
        "episode": item.row.episode,
        "series": item.row.series,
        "language": item.language,
        "media": str(item.row.media),
        "status": entry.status,
        "attempts": entry.attempts,
        "seconds": round(entry.seconds, 2) if entry.seconds is not None else None,
        "stages_cached": sum(bool(s.get("cached")) for s in stages.values()),
        "stages_run": sum(not s.get("cached") and not s.get("skipped") for s in stages.values()),
        "error": entry.error,
        "outputs": {name: o["path"] for name, o in (entry.outputs or {}).items()},
    }
    return row | _qa(row["outputs"].get("report"))


def _qa(report_html: str | None) -> dict[str, Any]:
    """Lines flagged by the review report of the dub, when it has one."""
    if not report_html:
        return {}
    try:
        episode = json.loads((Path(report_html).parent / "report.json").read_text(encoding="utf-8"))["episode"]
        return {"qa_flagged": episode["lines"]["flagged"], "qa_lines": episode["lines"]["total"]}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


COLUMNS = ("episode", "series", "language", "status", "attempts", "seconds", "cache", "qa", "error")
COLOURS = {"done": "#1b7f3b", "failed": "#b3261e", "quarantined": "#b3261e", "invalid": "#b3261e"}


def to_html(report: Mapping[str, Any]) -> str:
    """One file, inline CSS, no script and nothing fetched."""
    totals = " · ".join(f"{k}: {v}" for k, v in report["totals"].items())
    head = "".join(f"<th>{c}</th>" for c in COLUMNS)
    body = "\n".join(_html_row(row) for row in report["items"])
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>dubkit batch</title>
<style>body{{font:14px system-ui,sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left}}th{{background:#f3f3f3}}</style></head>
<body><h1>Batch report</h1><p>{html.escape(report["catalog"])} → {html.escape(report["outdir"])}</p>
<p><b>{html.escape(totals)}</b> (written {html.escape(report["written"])})</p>
<table><thead><tr>{head}</tr></thead><tbody>
{body}
</tbody></table></body></html>
"""


def _html_row(row: Mapping[str, Any]) -> str:
    cache = f"{row.get('stages_cached', 0)} cached / {row.get('stages_run', 0)} run" if "stages_run" in row else ""
    qa = f"{row['qa_flagged']} of {row['qa_lines']} lines flagged" if "qa_lines" in row else ""
    video = row.get("outputs", {}).get("video")
    episode = html.escape(row["episode"])
    if video:
        episode = f'<a href="{html.escape(Path(video).resolve().as_uri())}">{episode}</a>'
    report = row.get("outputs", {}).get("report")
    if report and qa:
        qa = f'<a href="{html.escape(Path(report).resolve().as_uri())}">{html.escape(qa)}</a>'
    cells = {
        "episode": episode,
        "series": html.escape(row.get("series", "")),
        "language": html.escape(row["language"]),
        "status": f'<b style="color:{COLOURS.get(row["status"], "#555")}">{html.escape(row["status"])}</b>',
        "attempts": str(row.get("attempts", "")),
        "seconds": "" if row.get("seconds") is None else f"{row['seconds']:.1f}",
        "cache": cache,
        "qa": qa if report else html.escape(qa),
        "error": html.escape(row.get("error") or ""),
    }
    return "<tr>" + "".join(f"<td>{cells[c]}</td>" for c in COLUMNS) + "</tr>"
