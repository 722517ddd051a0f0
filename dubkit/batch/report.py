"""The batch report: `batch.json` and a self-contained `batch.html` (per episode × language: status, attempts,
seconds, cache hits, QA flags where the review report exists, the reason of a failure)."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dubkit.batch.catalog import Catalog
from dubkit.batch.ledger import Entry
from dubkit.fsutil import write_text_atomic
from dubkit.qa import pages

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
TEMPLATE = "batch.html.j2"


@dataclass(frozen=True)
class PageRow:
    """One item as `batch.html` shows it: texts, and file links where its outputs are."""

    episode: str
    series: str
    language: str
    status: str
    attempts: str
    seconds: str
    cache: str
    qa: str
    error: str
    video_href: str | None
    report_href: str | None


def to_html(report: Mapping[str, Any]) -> str:
    """One file, the shared stylesheet inline, no script and nothing fetched (`dubkit.qa.pages`)."""
    return pages.render_page(
        TEMPLATE,
        catalog=report["catalog"],
        outdir=report["outdir"],
        written=report["written"],
        totals=" · ".join(f"{k}: {v}" for k, v in report["totals"].items()),
        columns=COLUMNS,
        rows=[page_row(row) for row in report["items"]],
    )


def page_row(row: Mapping[str, Any]) -> PageRow:
    outputs = row.get("outputs", {})
    video, report = outputs.get("video"), outputs.get("report")
    return PageRow(
        episode=row["episode"],
        series=row.get("series", ""),
        language=row["language"],
        status=row["status"],
        attempts=str(row.get("attempts", "")),
        seconds="" if row.get("seconds") is None else f"{row['seconds']:.1f}",
        cache=f"{row.get('stages_cached', 0)} cached / {row.get('stages_run', 0)} run" if "stages_run" in row else "",
        qa=f"{row['qa_flagged']} of {row['qa_lines']} lines flagged" if "qa_lines" in row else "",
        error=row.get("error") or "",
        video_href=Path(video).resolve().as_uri() if video else None,
        report_href=Path(report).resolve().as_uri() if report else None,
    )
