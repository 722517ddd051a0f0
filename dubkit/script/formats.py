"""The dubbing script as subtitles or a spreadsheet, for translators: export, edit the translation, import back.

One writer and one reader per format family, chosen from `WRITERS` / `READERS` by format name. A line's id
travels in the format's own slot, so edits map back to the right line:

| format | line id | timing | speaker | source text (shown, not read back) |
|---|---|---|---|---|
| srt  | none: cue n is the script's n-th line (pysubs2 reads no cue numbers: keep every cue, in order) | ms | — | — |
| vtt  | cue identifier | ms | voice span `<v S1>` | a `NOTE` block before the cue |
| ass  | Effect field | centiseconds | Name (actor) | a `Comment` event before the `Dialogue` |
| ttml | `xml:id` of the `<p>` | ms | `ttm:agent` | `<metadata><ttm:desc>` in the `<p>` |
| csv  | column `id` | columns `start_ms`, `end_ms` | column `speaker` | column `text` |

A line's `subtitle` (the condensed text the subtitles show instead of the translation) is carried by json and csv
(column `subtitle`) only: srt, vtt, ass and ttml show and read back the translation, and leave `subtitle` as it is.

Import merges a file onto its base script: a field changes only where the file differs from what exporting the
base writes (so a format's rounding, e.g. ASS centiseconds, is never mistaken for an edit), and every other line
stays byte-identical, so the per-line caches hit. Libraries: pysubs2 (srt, ass), webvtt-py (vtt: pysubs2 and
ttconv both drop cue identifiers), ttconv (ttml, in `ttml.py`), the csv module; the merge itself is `edits.py`.
"""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from dubkit.errors import ConfigError
from dubkit.fsutil import write_text_atomic
from dubkit.script import Script, ttml
from dubkit.script.edits import LineEdit, cleaned, malformed, merge

CSV_COLUMNS = ("id", "start_ms", "end_ms", "speaker", "text", "translation", "subtitle")
SUFFIXES = {".json": "json", ".srt": "srt", ".vtt": "vtt", ".ass": "ass", ".ssa": "ass", ".ttml": "ttml"}
SUFFIXES |= {".dfxp": "ttml", ".xml": "ttml", ".csv": "csv"}


def format_for(path: Path, given: str | None = None) -> str:
    """The format named by *given*, else by the file's suffix."""
    name = given or SUFFIXES.get(Path(path).suffix.lower())
    if name not in WRITERS:
        expected = ", ".join(WRITERS)
        raise ConfigError(f"{path}: unknown script format {name or Path(path).suffix!r} (expected one of {expected})")
    return name


def edited_format(path: Path) -> str:
    """The format of an edited script by its suffix; an unknown suffix is script JSON, as `--script` always read."""
    return SUFFIXES.get(Path(path).suffix.lower(), "json")


def export_target(script_path: Path, format_: str | None, out: Path | None) -> tuple[Path, str]:
    """Where to export and in which format: *format_* or *out*'s suffix; *out* or `<name>.script.<format>`."""
    if format_ is None and out is None:
        raise ConfigError(f"{script_path}: say which format to export (--format, or -o with a known suffix)")
    format_ = format_for(out, format_) if out is not None else format_for(script_path, format_)
    if out is None:
        stem = Path(script_path).name.removesuffix(".json").removesuffix(".script")
        out = Path(script_path).with_name(f"{stem}.script.{format_}")
    if Path(out).resolve() == Path(script_path).resolve():
        raise ConfigError(f"{out}: exporting would overwrite the script itself (give -o)")
    return Path(out), format_


def export(script: Script, out: Path, format_: str) -> None:
    write_text_atomic(Path(out), WRITERS[format_](script))


def load_edited(edited: Path, base: Path | None) -> Script:
    """The script a `--script` file means: a JSON script as it is, any other format merged onto *base*."""
    format_ = edited_format(edited)
    if format_ == "json":
        return Script.load(edited)
    if base is None:
        raise ConfigError(f"{edited}: an edited {format_} file needs a base script.json to merge onto (give --base)")
    return merge_file(edited, Script.load(base), format_)


def merge_file(edited: Path, base: Script, format_: str | None = None) -> Script:
    """*base* with the translations, timings, speakers and subtitles edited in the file *edited*."""
    format_ = format_for(edited, format_) if format_ else edited_format(edited)
    if format_ == "json":
        return Script.load(edited)
    edits = READERS[format_](_read_text(edited), str(edited))
    view = READERS[format_](WRITERS[format_](base), f"{format_} export of the base script")
    return merge(base, edits, view, str(edited), positional=format_ == "srt")


def find_base(edited: Path, candidates: Iterable[Path] = ()) -> Path:
    """The first base script that exists: `<name>.script.json` beside *edited*, then *candidates*."""
    if not Path(edited).is_file():
        raise ConfigError(f"{edited}: cannot read the edited script (no such file)")
    stem = Path(edited).name.rsplit(".", 1)[0].removesuffix(".script")
    tried = list(dict.fromkeys([Path(edited).with_name(f"{stem}.script.json"), *map(Path, candidates)]))
    for path in tried:
        if path.is_file():
            return path
    names = ", ".join(map(str, tried))
    raise ConfigError(f"{edited}: no base script to merge the edits onto (tried {names}; give --base SCRIPT.json)")


def _read_text(path: Path) -> str:
    try:
        return Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the edited script ({exc.__class__.__name__}: {exc})") from None


# --- json --------------------------------------------------------------------------------------------------------


def _write_json(script: Script) -> str:
    return script.to_json()


def _read_json(text: str, origin: str) -> tuple[LineEdit, ...]:
    script = Script.from_json(text, origin)
    return tuple(LineEdit(s.translation, s.id, s.start_ms, s.end_ms, s.speaker, s.subtitle) for s in script.segments)


# --- srt and ass (pysubs2) ---------------------------------------------------------------------------------------


def _write_srt(script: Script) -> str:
    import pysubs2

    subs = pysubs2.SSAFile()
    for s in script.segments:
        subs.append(pysubs2.SSAEvent(start=s.start_ms, end=s.end_ms, text=_ass_text(s.translation)))
    return subs.to_string("srt")


def _read_srt(text: str, origin: str) -> tuple[LineEdit, ...]:
    events = _pysubs2_events(text, "srt", origin)
    return tuple(LineEdit(cleaned(e.plaintext), None, e.start, e.end) for e in events)


def _write_ass(script: Script) -> str:
    """Per line a Comment with the source text, then the Dialogue with the translation; id in Effect."""
    import pysubs2

    subs = pysubs2.SSAFile()
    subs.info["Title"] = f"{script.source_language} → {script.target_language}"
    for s in script.segments:
        times: dict[str, Any] = {"start": s.start_ms, "end": s.end_ms, "name": s.speaker, "effect": s.id}
        subs.append(pysubs2.SSAEvent(**times, text=_ass_text(s.text), type="Comment"))
        subs.append(pysubs2.SSAEvent(**times, text=_ass_text(s.translation)))
    return subs.to_string("ass")


def _read_ass(text: str, origin: str) -> tuple[LineEdit, ...]:
    events = [e for e in _pysubs2_events(text, "ass", origin) if not e.is_comment]
    return tuple(
        LineEdit(cleaned(e.plaintext), e.effect.strip() or None, e.start, e.end, e.name.strip() or None) for e in events
    )


def _ass_text(text: str) -> str:
    return text.strip().replace("\n", "\\N")


def _pysubs2_events(text: str, format_: str, origin: str) -> list:
    import pysubs2

    try:
        return list(pysubs2.SSAFile.from_string(text, format_=format_))
    except (pysubs2.Pysubs2Error, ValueError, KeyError, IndexError) as exc:
        raise malformed(origin, format_, exc) from None


# --- vtt (webvtt-py) ---------------------------------------------------------------------------------------------


def _write_vtt(script: Script) -> str:
    from webvtt import Caption, WebVTT

    document = WebVTT()
    for s in script.segments:
        lines = [html.escape(line, quote=False) for line in s.translation.strip().split("\n") if line.strip()] or [""]
        voice = f"<v {html.escape(s.speaker, quote=False)}>"
        caption = Caption(_vtt_time(s.start_ms), _vtt_time(s.end_ms), [voice + lines[0], *lines[1:]], s.id)
        caption.comments = [" ".join(s.text.split()).replace("-->", "→")] if s.text.strip() else []
        document.captions.append(caption)
    return document.content


def _read_vtt(text: str, origin: str) -> tuple[LineEdit, ...]:
    from webvtt import WebVTT
    from webvtt.errors import MalformedCaptionError, MalformedFileError

    try:
        captions = WebVTT.from_string(text, strict=True).captions
        return tuple(
            LineEdit(
                cleaned(html.unescape(c.text)),
                c.identifier.strip() if c.identifier else None,
                c.start_time.in_milliseconds(),
                c.end_time.in_milliseconds(),
                html.unescape(c.voice).strip() if c.voice else None,
            )
            for c in captions
        )
    except (MalformedFileError, MalformedCaptionError, ValueError) as exc:
        raise malformed(origin, "vtt", exc) from None


def _vtt_time(ms: int) -> str:
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    return f"{hours:02d}:{minutes:02d}:{rest // 1000:02d}.{rest % 1000:03d}"


# --- csv ---------------------------------------------------------------------------------------------------------


def _write_csv(script: Script) -> str:
    out = io.StringIO()
    rows = csv.writer(out)
    rows.writerow(CSV_COLUMNS)
    for s in script.segments:
        rows.writerow([s.id, s.start_ms, s.end_ms, s.speaker, s.text, s.translation, s.subtitle])
    return out.getvalue()


def _read_csv(text: str, origin: str) -> tuple[LineEdit, ...]:
    try:
        table = csv.DictReader(io.StringIO(text, newline=""))
        rows = list(table)
    except csv.Error as exc:
        raise malformed(origin, "csv", exc) from None
    if not {"id", "translation"} <= set(table.fieldnames or ()):
        raise ConfigError(f"{origin}: not a valid csv script (needs a header row with columns id and translation)")
    return tuple(_csv_line(row, number, origin) for number, row in enumerate(rows, start=2))


def _csv_line(row: dict, number: int, origin: str) -> LineEdit:
    def integer(column: str) -> int | None:
        value = (row.get(column) or "").strip()
        if column not in row:
            return None
        if not (value.isascii() and value.isdigit()):
            raise ConfigError(f"{origin}: row {number}: {column} must be whole milliseconds, not {value!r}")
        return int(value)

    speaker = (row.get("speaker") or "").strip() if "speaker" in row else None
    ident = (row.get("id") or "").strip() or None
    translation = cleaned(row.get("translation") or "")
    subtitle = cleaned(row.get("subtitle") or "") if "subtitle" in row else None  # no column: an older export
    return LineEdit(translation, ident, integer("start_ms"), integer("end_ms"), speaker or None, subtitle)


Writer = Callable[[Script], str]
Reader = Callable[[str, str], tuple[LineEdit, ...]]
WRITERS: dict[str, Writer] = {
    "json": _write_json,
    "srt": _write_srt,
    "vtt": _write_vtt,
    "ass": _write_ass,
    "ttml": ttml.write,
    "csv": _write_csv,
}
READERS: dict[str, Reader] = {
    "json": _read_json,
    "srt": _read_srt,
    "vtt": _read_vtt,
    "ass": _read_ass,
    "ttml": ttml.read,
    "csv": _read_csv,
}
