"""The HTML QA report (`dubkit.qa.html`): schema-valid input, escaping, self-containment, and a real browser.

The browser tests run Debian's headless Chromium on the rendered file: a screenshot that is not blank, the
rendered DOM (one table row per line, the SVG plots), and Chromium's net log, which must show no request made
on behalf of the page. Loads of `file:` URLs never reach the network stack, so every page-initiated entry in
the net log is a fetch from elsewhere (http, https, ws...); `data:` URLs are not logged either, which the static
checks cover. Set DUBKIT_QA_SCREENSHOT=/some/path.png to keep the screenshot.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from markupsafe import escape

from dubkit.qa.html import render
from dubkit.qa.pages import fmt_clock_ms, fmt_percent, relative_href
from tests.qa_fixtures import SCHEMA_PATH, example_report

XSS = "<script>alert(1)</script>"
RESOURCE_ATTRIBUTES = {"src", "href", "xlink:href", "srcset", "poster", "action", "data", "formaction", "background"}


# ---------------------------------------------------------------------------------------------------------------
# Helpers


class ResourceCollector(HTMLParser):
    """Every resource reference (attribute or CSS url()), element names, and the attributes seen."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.references: list[str] = []
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str, str]] = []
        self.css: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self._in_style = tag == "style"
        for name, value in attrs:
            self.attributes.append((tag, name, value or ""))
            if name in RESOURCE_ATTRIBUTES and value is not None:
                self.references.append(value)
            if name == "style" and value:
                self.css.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.css.append(data)


def collect(document: str) -> ResourceCollector:
    parser = ResourceCollector()
    parser.feed(document)
    parser.close()
    return parser


def css_urls(css: str) -> list[str]:
    found = [match.strip("'\" ") for match in re.findall(r"url\(([^)]*)\)", css, flags=re.I)]
    return found + re.findall(r"@import\s+['\"]([^'\"]+)", css, flags=re.I)


def is_local_reference(reference: str) -> bool:
    """A same-document fragment or a relative path: no scheme (http, data, javascript...) and no host."""
    parts = urlsplit(reference.strip())
    return not parts.scheme and not parts.netloc and not reference.strip().startswith("//")


def assert_self_contained(document: str) -> None:
    parsed = collect(document)
    remote = [ref for ref in parsed.references if not is_local_reference(ref)]
    assert not remote, f"references outside the report: {remote}"
    remote_css = [url for css in parsed.css for url in css_urls(css) if not is_local_reference(url)]
    assert not remote_css, f"CSS fetches from outside the report: {remote_css}"
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:|//|data:|javascript:)""", document, flags=re.I)
    assert not re.search(r"url\(\s*['\"]?\s*(?:https?:|//|data:)", document, flags=re.I)
    assert "script" not in parsed.tags and "link" not in parsed.tags and "iframe" not in parsed.tags


def escaped(text: str) -> str:
    """*text* as the page's templates escape it (quotes as numeric references)."""
    return str(escape(text))


def rendered(tmp_path: Path, report: dict[str, Any] | None = None) -> str:
    out = render(report if report is not None else example_report(), tmp_path / "report.html")
    return out.read_text(encoding="utf-8")


def validate(report: dict[str, Any]) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(report)


# ---------------------------------------------------------------------------------------------------------------
# The example report


@pytest.mark.parametrize("lines", [0, 1, 6, 7, 30])
def test_example_report_validates_against_the_schema(lines: int) -> None:
    validate(example_report(lines))


def test_example_report_is_realistic() -> None:
    report = example_report()
    lines = report["lines"]
    assert len({line["speaker"] for line in lines}) >= 3
    flagged = [line for line in lines if line["flags"]]
    assert len(flagged) >= 3 and len({flag for line in flagged for flag in line["flags"]}) >= 4
    assert report["episode"]["lines"] == {"total": len(lines), "flagged": len(flagged)}
    assert any(line["sync"]["after"] is None and line["dubbed"] is not None for line in lines), "a line with no face"
    assert any(line["sample"] for line in lines)
    assert {clip["line"] for clip in report["samples"]["clips"]} == {line["id"] for line in lines if line["sample"]}
    mouth, waveform = report["plots"]["mouth"], report["plots"]["waveform"]
    assert 200 <= len(mouth["times_s"]) == len(mouth["opening"]) == len(mouth["envelope"]) <= 1000
    assert None in mouth["opening"]
    assert 200 <= len(waveform["original"]) == len(waveform["dubbed"]) <= 1000


def test_schema_rejects_a_broken_report() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    report = example_report()
    report["lines"][0]["flags"] = ["not_a_flag"]
    with pytest.raises(jsonschema.ValidationError):
        validate(report)


# ---------------------------------------------------------------------------------------------------------------
# Rendering


def test_render_writes_one_file(tmp_path: Path) -> None:
    out = render(example_report(), tmp_path / "report.html")
    assert out == tmp_path / "report.html"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"], "no temporary files left behind"
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_render_into_a_directory_writes_report_html(tmp_path: Path) -> None:
    assert render(example_report(), tmp_path) == tmp_path / "report.html"
    assert (tmp_path / "report.html").is_file()


def test_every_line_and_its_escaped_texts_appear(tmp_path: Path) -> None:
    report = example_report(12)
    document = rendered(tmp_path, report)
    for line in report["lines"]:
        assert f'id="line-{line["id"]}"' in document
        assert escaped(line["text"]) in document
        assert escaped(line["translation"]) in document
        for word in line["asr"]["text"].split():
            assert escaped(word) in document
    assert escaped('Tom & Jerry\'s "big" day <starts> now.') in document
    assert "<starts>" not in document


def test_header_and_summary_state_the_verdicts_in_words(tmp_path: Path) -> None:
    report = example_report()
    document = rendered(tmp_path, report)
    assert escaped(report["original"]) in document and escaped(report["dubbed"]) in document
    assert "en → es" in document
    assert "NEEDS REVIEW" in document and "FLAGGED" in document and "✓ OK" in document
    assert "-0.6 dBTP" in document and "target -23.0" in document, "true peak against its limit, LUFS vs target"
    assert "+3.4 fr" in document and "+0.4 fr" in document, "episode sync before and after"
    assert 'href="samples/s01e03%20side-by-side.mp4"' in document


def test_flagged_rows_and_out_of_threshold_cells_are_marked(tmp_path: Path) -> None:
    report = example_report()
    document = rendered(tmp_path, report)
    rows = re.findall(r'<tr id="line-(L\d+)"( class="flagged")?>', document)
    assert {line_id for line_id, flagged in rows if flagged} == {
        line["id"] for line in report["lines"] if line["flags"]
    }
    stretched = re.search(r'<tr id="line-L005".*?</tr>', document, flags=re.S)
    assert stretched is not None
    assert stretched.group(0).count('class="num out"') == 3, "stretch, overflow and duration ratio"
    assert 'class="badge"' in stretched.group(0) and ">stretch<" in stretched.group(0)
    no_face = re.search(r'<tr id="line-L003".*?</tr>', document, flags=re.S)
    assert no_face is not None and no_face.group(0).count("no face") == 2


def test_the_page_marks_what_the_report_flagged_not_what_it_would_flag_itself(tmp_path: Path) -> None:
    """Thresholds loosened after the fact change no mark; flags taken away take the marks with them."""
    report = example_report()
    loose = {"max_stretch": 9.0, "max_overflow_ms": 9000, "max_duration_ratio": 9.0, "max_offset_frames": 99.0}
    report["thresholds"].update(loose, min_confidence=0.0)
    document = rendered(tmp_path, report)
    stretched = re.search(r'<tr id="line-L005".*?</tr>', document, flags=re.S)
    assert stretched is not None and stretched.group(0).count('class="num out"') == 3
    assert "stretch above 9×" in stretched.group(0)
    shots = re.search(r'<section class="panel shots-panel">.*?</section>', document, flags=re.S)
    assert shots is not None and shots.group(0).count('class="sync out"') == 1
    for line in report["lines"]:
        line["flags"] = []
        for sync in line["sync"].values():
            if sync is not None:
                sync["flags"] = []
    report["episode"]["lines"]["flagged"] = 0
    document = rendered(tmp_path, report)
    lines = re.search(r'<table class="lines" id="lines">.*?</table>', document, flags=re.S)
    assert lines is not None and " out" not in lines.group(0) and "warn" not in lines.group(0)


def test_each_shot_shows_its_sync_before_and_after(tmp_path: Path) -> None:
    """A shot re-synced well, one still unsure after (marked), one not measured; no section without video."""
    document = rendered(tmp_path, example_report())
    section = re.search(r'<section class="panel shots-panel">.*?</section>', document, flags=re.S)
    assert section is not None and "3 shots" in section.group(0)
    rows = re.findall(r"<tr><td>\d+</td>.*?</tr>", section.group(0), flags=re.S)
    assert len(rows) == 3
    assert "+0.2 fr" in rows[0] and 'class="sync out"' not in rows[0]
    assert "+1.8 fr" in rows[1] and 'class="sync out"' in rows[1] and "confidence below 0.25" in rows[1]
    assert rows[2].count("not measured") == 2
    report = example_report()
    report["shots"] = []
    assert "shots-panel" not in rendered(tmp_path, report)


def test_a_subtitle_too_fast_shows_its_text_reading_speed_and_what_to_do(tmp_path: Path) -> None:
    report = example_report()
    line = report["lines"][1]
    broken = {"rule": "max_chars_per_second", "start_ms": 1096, "value": 20.453, "limit": 17.0}
    line["subtitle"] = {"text": "Representa al BCE <y> más.", "condensed": True, "broken": [broken]}
    line["flags"] = [*line["flags"], "subtitle_fast"]
    report["lines"][0]["subtitle"] = None  # not known (`dubkit qa` on a dub alone)
    report["episode"]["lines"]["flagged"] = sum(bool(x["flags"]) for x in report["lines"])
    validate(report)
    document = rendered(tmp_path, report)
    row = re.search(rf'<tr id="line-{line["id"]}".*?</tr>', document, flags=re.S)
    assert row is not None and 'class="flagged"' in row.group(0) and ">subtitle too fast<" in row.group(0)
    assert "Representa al BCE &lt;y&gt; más." in row.group(0) and "(condensed)" in row.group(0)
    assert "reading speed 20.5 cps (max 17)" in row.group(0) and "shorter <code>subtitle</code>" in row.group(0)
    assert document.count('class="sub"') == 1  # lines whose subtitle is the translation, readable, show none


def test_sample_clip_is_linked_relatively(tmp_path: Path) -> None:
    document = rendered(tmp_path)
    assert 'href="samples/L002.mp4"' in document
    assert '<video controls preload="none" src="samples/L002.mp4">' in document


def with_texts(texts: dict[str, str]) -> dict[str, Any]:
    """The example report with its first line's texts, speaker and sample, and the file names, replaced."""
    report = example_report()
    line = report["lines"][0]
    line["text"], line["translation"], line["asr"]["text"] = texts["text"], texts["translation"], texts["heard"]
    line["speaker"], line["sample"] = texts["speaker"], texts["sample"]
    report["original"], report["samples"]["side_by_side"] = texts["original"], texts["side_by_side"]
    return report


def test_hostile_texts_are_escaped(tmp_path: Path) -> None:
    hostile = {
        "text": XSS,
        "translation": '"><img src=x onerror=alert(1)>',
        "heard": XSS + " </td></tr></table>",
        "speaker": "<b>EVIL</b>",
        "sample": "javascript:alert(1)",
        "original": "</title><script>alert(2)</script>.mp4",
        "side_by_side": "//evil.example/x.mp4",
    }
    report = with_texts(hostile)
    validate(report)
    document = rendered(tmp_path, report)
    assert XSS not in document and "<script" not in document.lower()
    assert escaped(XSS) in document
    assert "<img" not in document and "<b>EVIL" not in document
    parsed = collect(document)
    assert not [(tag, name) for tag, name, _ in parsed.attributes if name.startswith("on")], "no event handlers"
    benign = {key: "plain" for key in hostile} | {"heard": "other words", "sample": "a.mp4", "side_by_side": "b.mp4"}
    baseline = collect(rendered(tmp_path / "benign", with_texts(benign)))
    assert sorted(parsed.tags) == sorted(baseline.tags), "the hostile texts added no elements"
    assert_self_contained(document)


def test_no_remote_references(tmp_path: Path) -> None:
    assert_self_contained(rendered(tmp_path))


def test_static_check_catches_remote_references() -> None:
    for bad in (
        '<img src="https://cdn.example/x.png">',
        '<a href="//cdn.example/x">x</a>',
        "<style>body{background:url(http://x.example/a.png)}</style>",
        '<div style="background:url(data:image/png;base64,AAAA)"></div>',
        "<script>1</script>",
    ):
        with pytest.raises(AssertionError):
            assert_self_contained(f"<!DOCTYPE html><html><body>{bad}</body></html>")


def test_degenerate_report_renders(tmp_path: Path) -> None:
    report = example_report(0)
    report["script"] = None
    report["episode"]["duration"]["video_s"] = None
    report["episode"]["sync"] = {"before": None, "after": None}
    report["episode"]["flags"] = []
    report["episode"]["loudness"]["ok"] = True
    report["episode"]["loudness"]["true_peak_dbtp"] = -2.0
    report["plots"] = {
        "waveform": {"bin_s": 0.05, "original": [], "dubbed": []},
        "mouth": {"times_s": [0.0, 0.1], "opening": [None, None], "envelope": [0.0, 0.0]},
    }
    report["samples"] = {"clips": [], "side_by_side": None}
    validate(report)
    document = rendered(tmp_path, report)
    assert "ALL OK" in document and "audio only" in document
    assert_self_contained(document)


def test_number_formats() -> None:
    assert fmt_clock_ms(61_234) == "1:01.234"
    assert fmt_clock_ms(3_723_004) == "1:02:03.004"
    assert fmt_clock_ms(None) == "—"
    assert fmt_percent(0.375) == "38 %" and fmt_percent(0.05) == "5.0 %" and fmt_percent(0) == "0 %"
    assert relative_href("samples/a b#1.mp4") == "samples/a%20b%231.mp4"
    assert is_local_reference(relative_href("javascript:alert(1)"))
    assert is_local_reference(relative_href("//host/x.mp4"))


def test_render_does_not_modify_the_report(tmp_path: Path) -> None:
    report = example_report()
    before = copy.deepcopy(report)
    render(report, tmp_path / "report.html")
    assert report == before


# ---------------------------------------------------------------------------------------------------------------
# A real browser

BROWSER_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--hide-scrollbars",
    "--window-size=1400,2000",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
)


@pytest.fixture(scope="module")
def chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        binary = shutil.which(name)
        if binary:
            return binary
    pytest.skip("chromium not installed (Debian: scripts/apt-install chromium; `make test` does it)")


def run_browser(binary: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """One headless Chromium run with a fresh profile; its output is kept for the assertion messages."""
    command = [binary, *BROWSER_FLAGS, f"--user-data-dir={profile}", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=240, check=False)


def net_log_events(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    log = json.loads(path.read_text(encoding="utf-8"))
    names = {number: name for name, number in log["constants"]["logEventTypes"].items()}
    for event in log["events"]:
        yield names.get(event["type"], str(event["type"])), event.get("params") or {}


def page_requests(net_log: Path) -> list[str]:
    """URLs fetched over the network on behalf of the page.

    The browser's own service traffic (component updater, sign-in, network clock), which no page can cause, starts
    jobs with no initiator ("not an origin") outside the page's file:// isolation key; everything else counts.
    """
    urls = []
    for name, params in net_log_events(net_log):
        if name != "URL_REQUEST_START_JOB" or "url" not in params:
            continue
        from_browser = params.get("initiator") == "not an origin"
        in_page = "file://" in str(params.get("network_isolation_key", ""))
        if in_page or not from_browser:
            urls.append(params["url"])
    return urls


def pixel_spread(png: Path) -> tuple[tuple[int, int], float, float]:
    """(size, grey-level standard deviation, share of pixels that are not near-white)."""
    image_module = pytest.importorskip("PIL.Image")
    np = pytest.importorskip("numpy")
    with image_module.open(png) as image:
        size = image.size
        grey = np.asarray(image.convert("L"), dtype=float)
    return size, float(grey.std()), float((grey < 235).mean())


class DomSummary(HTMLParser):
    """Rows of the lines table and the SVG plots in the rendered DOM."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[tuple[str, dict[str, str]]] = []
        self.line_rows: list[str] = []
        self.svg_classes: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "svg":
            self.svg_classes.append(attributes.get("class", ""))
        in_lines_body = any(t == "table" and a.get("id") == "lines" for t, a in self.stack) and any(
            t == "tbody" for t, _ in self.stack
        )
        if tag == "tr" and in_lines_body:
            self.line_rows.append(attributes.get("id", ""))
        self.stack.append((tag, attributes))

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self.stack) - 1, -1, -1):
            if self.stack[index][0] == tag:
                del self.stack[index:]
                break


@pytest.mark.slow
def test_report_in_headless_chromium(tmp_path: Path, chromium: str) -> None:
    report = example_report()
    page = render(report, tmp_path / "report" / "report.html")
    screenshot, net_log = tmp_path / "screenshot.png", tmp_path / "netlog.json"

    shot = run_browser(
        chromium, tmp_path / "profile-shot", f"--log-net-log={net_log}", f"--screenshot={screenshot}", page.as_uri()
    )
    assert screenshot.is_file(), f"no screenshot; chromium said:\n{shot.stderr[-3000:]}"
    if os.environ.get("DUBKIT_QA_SCREENSHOT"):
        shutil.copyfile(screenshot, os.environ["DUBKIT_QA_SCREENSHOT"])
    size, spread, ink = pixel_spread(screenshot)
    assert size == (1400, 2000)
    assert spread > 20 and ink > 0.05, f"screenshot looks blank (grey std {spread:.1f}, non-white {ink:.1%})"

    assert net_log.is_file(), f"no net log; chromium said:\n{shot.stderr[-3000:]}"
    assert page_requests(net_log) == [], "the report fetched something over the network"

    dump = run_browser(chromium, tmp_path / "profile-dom", "--dump-dom", page.as_uri())
    assert dump.returncode == 0 and "</html>" in dump.stdout, dump.stderr[-3000:]
    dom = DomSummary()
    dom.feed(dump.stdout)
    assert dom.line_rows == [f"line-{line['id']}" for line in report["lines"]]
    assert len(dom.svg_classes) >= 3 and sum("plot" in c.split() for c in dom.svg_classes) == 3
    assert_self_contained(dump.stdout)


@pytest.mark.slow
def test_net_log_check_sees_a_page_fetching_remotely(tmp_path: Path, chromium: str) -> None:
    """The canary: on this Chromium, a page's remote fetch does show in the net log as the check reads it."""
    page = tmp_path / "canary.html"
    page.write_text('<!DOCTYPE html><html><body><img src="http://127.0.0.1:9/canary.png"></body></html>')
    net_log = tmp_path / "netlog.json"
    run_browser(chromium, tmp_path / "profile", f"--log-net-log={net_log}", "--dump-dom", page.as_uri())
    assert page_requests(net_log) == ["http://127.0.0.1:9/canary.png"]
