"""The `dubkit` command. Heavy modules are imported inside commands so `dubkit --help` stays instant."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

import click

from dubkit.errors import DubkitError, describe
from dubkit.options import EpisodeOptions, episode_options

log = logging.getLogger("dubkit")


def reported(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn dubkit errors (and disk-full, interrupts) into a one-line message and an exit code."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except DubkitError as exc:
            _fail(str(exc), exc.exit_code)
        except KeyboardInterrupt:
            _fail("interrupted", 130)
        except OSError as exc:
            _fail(describe(exc), 1)  # the file and the cause; "disk full" for ENOSPC
        except Exception as exc:  # noqa: BLE001 - a bug: one line for the user, the traceback in the log
            log.debug("internal error", exc_info=True)
            _fail(f"internal error: {exc.__class__.__name__}: {exc} (run with -vv for the traceback)", 70)

    return wrapper


def _fail(message: str, code: int) -> None:
    click.echo(f"dubkit: error: {message}", err=True)
    sys.exit(code)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def main(verbose: int) -> None:
    """dubkit: transcribe, translate, re-voice and re-sync video, every stage cached."""
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)


@main.command()
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path))
@click.option("--to", "target", required=True, help="Target language (BCP-47: es, pt-BR, fr ...).")
@click.option("-o", "--outdir", type=click.Path(path_type=Path), default=Path("dubbed"), show_default=True)
@episode_options()
@click.option("--cache-dir", type=click.Path(path_type=Path), default=None, envvar="DUBKIT_CACHE_DIR")
@click.option("--until", default=None, help="Stop after this stage (e.g. translate, to edit the script).")
@click.option(
    "--script",
    "script",
    type=click.Path(path_type=Path),
    default=None,
    help="Resume from an edited script: script.json, or an export of it (srt, vtt, ass, ttml, csv).",
)
@click.option(
    "--base",
    "script_base",
    type=click.Path(path_type=Path),
    default=None,
    help="The script.json an edited export is merged onto (default: found beside it or in OUTDIR).",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary on stdout.")
@reported
def translate(
    input_path: Path,
    target: str,
    outdir: Path,
    cache_dir: Path | None,
    until: str | None,
    script: Path | None,
    script_base: Path | None,
    as_json: bool,
    **episode: Any,
) -> None:
    """Dub INPUT into another language."""
    from dubkit.cache import Cache
    from dubkit.runner import dub

    options = EpisodeOptions.from_cli(episode)
    result = dub(
        options.episode(input_path, target, script=script, script_base=script_base),
        preset=options.preset(),
        cache=Cache(cache_dir),
        outdir=outdir,
        until=until,
        progress=_progress_printer(as_json),
    )
    summary = result.summary()
    if as_json:
        click.echo(json.dumps(summary))
        return
    for name, stage in summary["stages"].items():
        state = "skipped" if stage["skipped"] else "cached" if stage["cached"] else "done"
        click.echo(f"{name:<11} {state:<7} {stage['seconds']:8.2f} s", err=True)
    lines = summary["lines"]
    click.echo(
        f"lines: {lines['total']} total, {lines['synthesized']} synthesized, "
        f"{lines['cached']} cached, {lines['overflow']} overflow, {lines['cut']} cut at the end",
        err=True,
    )
    _echo_checks(summary)
    keys = ("output", "matroska", "stems", "subtitles", "script", "report")
    for path in dict.fromkeys(summary[key] for key in keys if summary[key]):  # MKV alone: output = matroska
        click.echo(path)


def _echo_checks(summary: dict[str, Any]) -> None:
    """Subtitle timed-text rules broken and glossary terms missing, one line each, on stderr."""
    counts = summary["stages"].get("render", {}).get("counts", {})
    if "subtitle_cues" in counts:
        broken, condensed = counts["subtitle_violations"], counts.get("subtitle_condensed", 0)
        click.echo(
            f"subtitles: {counts['subtitle_cues']} cues, {broken} timed-text rule(s) broken, "
            f"{condensed} line(s) condensed",
            err=True,
        )
    terms = summary.get("glossary")
    if terms:
        click.echo(f"glossary: {terms['terms']} terms, {len(terms['violations'])} violation(s)", err=True)
        for found in terms["violations"]:
            where = found.get("where", "translation")
            click.echo(f"  line {found['line']}: {found['term']!r} must read {found['expected']!r} ({where})", err=True)


def _progress_printer(quiet: bool) -> Callable[[str, int, int], None]:
    def show(stage: str, done: int, total: int) -> None:
        if not quiet and sys.stderr.isatty():
            click.echo(f"\r{stage}: {done}/{total}", err=True, nl=done >= total)

    return show


@main.command()
@click.argument("catalog", type=click.Path(path_type=Path))
@click.option("--to", "targets", default="", help="Target languages, comma-separated, for rows that name none.")
@click.option("-o", "--outdir", type=click.Path(path_type=Path), default=Path("dubbed"), show_default=True)
@episode_options(catalog=True)
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True)
@click.option("--workers", type=click.IntRange(1, 256), default=1, show_default=True, help="Parallel workers.")
@click.option("--retries", type=click.IntRange(0, 100), default=1, show_default=True, help="Tries after a failure.")
@click.option("--retry-quarantined", is_flag=True, help="Try again the items that failed every try before.")
@click.option("--cache-dir", type=click.Path(path_type=Path), default=None, envvar="DUBKIT_CACHE_DIR")
@click.option("--ray-address", default=None, envvar="RAY_ADDRESS", help="Ray cluster (default: a local instance).")
@click.option("--allow-outside", is_flag=True, help="Let catalog paths leave the catalog's folder.")
@click.option("--dry-run", is_flag=True, help="List per episode, language and stage: cached or to compute.")
@click.option("--json", "as_json", is_flag=True, help="Print the batch report (or the plan) on stdout.")
@reported
def batch(catalog: Path, targets: str, outdir: Path, **options: Any) -> None:
    """Dub every episode of CATALOG (CSV or JSONL) into every language; crash-safe, re-runs redo only what is
    missing. Writes OUTDIR/<episode>/..., OUTDIR/batch.json and batch.html.

    --from to --no-qa are the options of `dubkit translate` and apply to every row; where a row gives its own
    source, pipeline, cast or glossary column, the row wins."""
    from dubkit.batch import driver, report
    from dubkit.batch.items import Settings
    from dubkit.cache import Cache

    episode = EpisodeOptions.from_cli(options)
    as_json, dry_run, executor, allow = (options.pop(k) for k in ("as_json", "dry_run", "executor", "allow_outside"))
    settings = Settings(outdir, Cache(options.pop("cache_dir")).root, episode, **options)
    languages = [code.strip() for code in targets.split(",") if code.strip()]
    if dry_run:
        found = driver.plan(catalog, languages, settings, allow)
        click.echo(json.dumps(found, ensure_ascii=False) if as_json else _plan_text(found))
        return
    bar = _bar(as_json)
    found = driver.run(catalog, languages, settings, executor=executor, allow_outside=allow, progress=bar)
    if bar:
        click.echo(err=True)  # end the progress line
    click.echo(json.dumps(found, ensure_ascii=False) if as_json else _totals_text(found, outdir))
    if report.failed(found):
        sys.exit(1)


def _plan_text(found: dict[str, Any]) -> str:
    lines = [
        f"{row['episode']} {row['language']}: "
        + (row["stages"] if isinstance(row["stages"], str) else " ".join(f"{k}={v}" for k, v in row["stages"].items()))
        for row in found["items"]
    ]
    return "\n".join(lines + [f"line {bad['line']}: invalid: {bad['reason']}" for bad in found["invalid"]])


def _totals_text(found: dict[str, Any], outdir: Path) -> str:
    totals = ", ".join(f"{k} {v}" for k, v in found["totals"].items() if k != "items")
    failures = [f"  {r['episode']} {r['language']}: {r['status']}: {r['error']}" for r in found["items"] if r["error"]]
    return "\n".join([f"batch: {found['totals']['items']} items: {totals}", *failures, str(outdir / "batch.html")])


def _bar(quiet: bool) -> Callable[[Any], None] | None:
    """A one-line progress bar on a terminal: items finished, failed, and what is being worked on."""
    if quiet or not sys.stderr.isatty():
        return None

    def show(tracker: Any) -> None:
        counts, total = tracker.counts(), len(tracker.items)
        finished = sum(counts.get(k, 0) for k in ("done", "quarantined"))
        filled = int(30 * finished / max(1, total))
        now = ", ".join(f"{e} {lang}: {stage}" for (e, lang), stage in list(tracker.current.items())[:2])
        line = f"[{'#' * filled}{'.' * (30 - filled)}] {finished}/{total} ({counts.get('failed', 0)} failed) {now}"
        click.echo(f"\r{line[:120]:<120}", err=True, nl=False)

    return show


@main.command()
@click.argument("original", type=click.Path(path_type=Path))
@click.argument("dubbed", type=click.Path(path_type=Path))
@click.option("--script", "script_path", type=click.Path(path_type=Path), required=True, help="The dub's script.json.")
@click.option("--fits", type=click.Path(path_type=Path), help="Line fits: `translate --json` output (or its fits).")
@click.option("-o", "--outdir", type=click.Path(path_type=Path), default=Path("qa"), show_default=True)
@click.option("--samples", type=int, default=None, help="Side-by-side clips of the worst lines (preset: 3).")
@click.option("--side-by-side", is_flag=True, help="Also a full-length side-by-side video.")
@click.option("--pipeline", default=None, help="Preset for thresholds and the transcription model.")
@click.option("--json", "as_json", is_flag=True, help="Print report.json on stdout.")
@reported
def qa(
    original: Path,
    dubbed: Path,
    script_path: Path,
    fits: Path | None,
    outdir: Path,
    samples: int | None,
    side_by_side: bool,
    pipeline: str | None,
    as_json: bool,
) -> None:
    """Review DUBBED against ORIGINAL: report.html, report.json and side-by-side samples in OUTDIR."""
    from dubkit.qa.cli import run_review

    found = run_review(original, dubbed, script_path, fits, outdir, samples, side_by_side, pipeline)
    if as_json:
        click.echo(json.dumps(found, ensure_ascii=False))
        return
    episode = found["episode"]
    click.echo(f"lines: {episode['lines']['total']} total, {episode['lines']['flagged']} flagged", err=True)
    click.echo(str(outdir / "report.html"))


@main.command()
@click.option("--json", "as_json", is_flag=True)
def backends(as_json: bool) -> None:
    """List backends: usable here or not, and how to install the rest."""
    from dubkit.backends import registry

    rows = []
    for item in registry.SPECS:
        ok, reason = registry.availability(item)
        rows.append(
            {"kind": item.kind, "name": item.name, "usable": ok, "reason": reason, "install": item.install_hint}
        )
    if as_json:
        click.echo(json.dumps(rows))
        return
    for row in rows:
        state = "usable" if row["usable"] else f"missing ({row['reason']})"
        click.echo(f"{row['kind']:<10} {row['name']:<15} {state}\n{'':<27}install: {row['install']}")


@main.command()
@click.option("--language", default=None, help="Only the voices that speak this language (BCP-47).")
@click.option("--audition", type=click.Path(path_type=Path), default=None, help="Write a sample WAV per voice here.")
@click.option("--pipeline", default=None, help="Preset whose engine options the samples use.")
@click.option("--json", "as_json", is_flag=True)
@reported
def voices(language: str | None, audition: Path | None, pipeline: str | None, as_json: bool) -> None:
    """List the voice profiles (dubkit/data/voices/*.toml); with --audition, speak a sample sentence with each."""
    from dubkit.casting import audition as auditions
    from dubkit.casting.voices import load_voices
    from dubkit.config import load_preset

    profiles = auditions.listed(load_voices(), language)
    samples = auditions.audition(profiles, language, audition, load_preset(pipeline)) if audition else {}
    rows = [auditions.row(v) | ({"sample": samples[v.name]} if samples else {}) for v in profiles]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False))
        return
    for row in rows:
        line = f"{row['name']:<16} {row['engine']:<7} {row['language']:<6} {row['gender'] or '-':<7} {row['license']}"
        click.echo(line + (f"\n{'':<16} sample: {row['sample']}" if "sample" in row else ""))


SCRIPT_FORMATS = click.Choice(["json", "srt", "vtt", "ass", "ttml", "csv"])  # dubkit.script.formats.WRITERS


@main.group()
def script() -> None:
    """Export the dubbing script for translators (srt, vtt, ass, ttml, csv) and import their edits."""


@script.command("export")
@click.argument("script_path", metavar="SCRIPT", type=click.Path(path_type=Path))
@click.option("--format", "format_", type=SCRIPT_FORMATS, default=None, help="Default: from -o's suffix.")
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None, help="Default: NAME.script.FORMAT.")
@reported
def script_export(script_path: Path, format_: str | None, output: Path | None) -> None:
    """Write SCRIPT.json as subtitles or a table: each line's translation, with its id, timing and speaker."""
    from dubkit.script import Script, formats

    loaded = Script.load(script_path)
    if output == Path("-"):
        click.echo(formats.WRITERS[format_ or "json"](loaded), nl=False)
        return
    output, format_ = formats.export_target(script_path, format_, output)
    formats.export(loaded, output, format_)
    click.echo(str(output))


@script.command("import")
@click.argument("edited", type=click.Path(path_type=Path))
@click.option("--base", type=click.Path(path_type=Path), default=None, help="Default: NAME.script.json beside EDITED.")
@click.option("--format", "format_", type=SCRIPT_FORMATS, default=None, help="Default: from EDITED's suffix.")
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True, help="The new script.json.")
@reported
def script_import(edited: Path, base: Path | None, format_: str | None, output: Path) -> None:
    """Merge the lines edited in EDITED onto the base script; unchanged lines are kept byte for byte."""
    from dubkit.script import Script, edits, formats

    before = Script.load(base or formats.find_base(edited))
    after = formats.merge_file(edited, before, format_)
    after.save(output)
    changed = edits.changed_lines(before, after)
    click.echo(f"{len(changed)} line(s) changed{': ' if changed else ''}{', '.join(changed)}", err=True)
    click.echo(str(output))


@main.group()
def cache() -> None:
    """Inspect the stage cache."""


@cache.command("info")
@click.option("--cache-dir", type=click.Path(path_type=Path), default=None, envvar="DUBKIT_CACHE_DIR")
@click.option("--json", "as_json", is_flag=True)
def cache_info(cache_dir: Path | None, as_json: bool) -> None:
    """Entries and size per stage."""
    from dubkit.cache import Cache

    store = Cache(cache_dir)
    stats = store.stats()
    if as_json:
        click.echo(json.dumps({"root": str(store.root), "stages": stats}))
        return
    click.echo(f"cache: {store.root}")
    for stage, row in stats.items():
        click.echo(f"  {stage:<11} {row['entries']:6d} entries {row['bytes'] / 1e6:10.1f} MB")
