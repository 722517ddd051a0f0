"""The `dubkit` command. Heavy modules are imported inside commands so `dubkit --help` stays instant."""

from __future__ import annotations

import errno
import json
import logging
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

import click

from dubkit.errors import DubkitError

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
            cause = "disk full" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
            _fail(f"{exc.filename or 'output'}: {cause}", 1)
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
@click.option("--from", "source", default=None, help="Source language (default: detected).")
@click.option("-o", "--outdir", type=click.Path(path_type=Path), default=Path("dubbed"), show_default=True)
@click.option("--pipeline", default=None, help="Preset name in pipelines/ or a TOML path.")
@click.option("--asr-model", default=None, help="Transcription model: a name (large-v3), a local path, embedded:base.")
@click.option("--cache-dir", type=click.Path(path_type=Path), default=None, envvar="DUBKIT_CACHE_DIR")
@click.option("--until", default=None, help="Stop after this stage (e.g. translate, to edit the script).")
@click.option("--script", "script", type=click.Path(path_type=Path), default=None, help="Resume from an edited script.")
@click.option("--cast", multiple=True, help="SPEAKER=VOICE, repeatable.")
@click.option("--no-lipsync", is_flag=True, help="Keep the original picture.")
@click.option("--no-qa", is_flag=True, help="Skip the review report.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary on stdout.")
@reported
def translate(
    input_path: Path,
    target: str,
    source: str | None,
    outdir: Path,
    pipeline: str | None,
    asr_model: str | None,
    cache_dir: Path | None,
    until: str | None,
    script: Path | None,
    cast: tuple[str, ...],
    no_lipsync: bool,
    no_qa: bool,
    as_json: bool,
) -> None:
    """Dub INPUT into another language."""
    from dubkit.cache import Cache
    from dubkit.config import load_preset, with_asr_model, without_lipsync, without_qa
    from dubkit.job import Episode
    from dubkit.runner import dub
    from dubkit.voices import parse_cast

    episode = Episode(input_path, target, source, script, parse_cast(cast))
    preset = load_preset(pipeline)
    preset = without_lipsync(preset) if no_lipsync else preset
    preset = without_qa(preset) if no_qa else preset
    result = dub(
        episode,
        preset=with_asr_model(preset, asr_model) if asr_model else preset,
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
        f"{lines['cached']} cached, {lines['overflow']} overflow",
        err=True,
    )
    for key in ("output", "subtitles", "script", "report"):
        if summary[key]:
            click.echo(summary[key])


def _progress_printer(quiet: bool) -> Callable[[str, int, int], None]:
    def show(stage: str, done: int, total: int) -> None:
        if not quiet and sys.stderr.isatty():
            click.echo(f"\r{stage}: {done}/{total}", err=True, nl=done >= total)

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
    from dubkit import registry

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
