"""The HTML pages' one Jinja environment: the QA report, the batch report (and the review studio later) share it.

Templates live in `dubkit/qa/templates/` (package data): `base.html.j2` is the page every report extends, with the
one stylesheet, `style.css`, inlined into it, so each page is a single file that opens offline (no script, no
font, nothing fetched). Autoescape is on for every template: a text taken from a report can never become markup.
The filters here are the number and time formats the pages share.
"""

from __future__ import annotations

import re
from functools import cache
from urllib.parse import quote

import jinja2
from markupsafe import Markup

TEMPLATES = "templates"
STYLESHEET = "style.css"


@cache
def environment() -> jinja2.Environment:
    """The environment every page renders with: package templates, autoescape, undefined names an error."""
    loader = jinja2.PackageLoader("dubkit.qa", TEMPLATES)
    env = jinja2.Environment(
        loader=loader,
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        clock=fmt_clock_ms,
        tick=fmt_tick,
        signed=fmt_signed,
        percent=fmt_percent,
        factor=fmt_factor,
        fixed=fmt_fixed,
        href=relative_href,
        plural=plural,
    )
    source, _, _ = loader.get_source(env, STYLESHEET)
    env.globals["stylesheet"] = Markup(source)  # CSS, not HTML: inlined as it is
    return env


def render_page(template: str, **context: object) -> str:
    """The page *template* filled with *context*."""
    return environment().get_template(template).render(**context)


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
    """A figure with its sign always written (a typographic minus), "+0.0" rather than "−0.0"."""
    text = f"{abs(value):.{decimals}f}"
    sign = "−" if value < 0 and float(text) != 0 else "+"
    return f"{sign}{text}{unit}"


def fmt_percent(fraction: float) -> str:
    percent = 100.0 * fraction
    if percent == 0 or percent >= 10:
        return f"{percent:.0f} %"
    return f"{percent:.1f} %"


def fmt_fixed(value: float, decimals: int = 1) -> str:
    """A figure with *decimals* decimals (SVG coordinates, confidences)."""
    return f"{value:.{decimals}f}"


def fmt_factor(value: float) -> str:
    return f"{value:.2f}×"


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def relative_href(path: str) -> str:
    """A report-relative file path as a safe relative URL: percent-encoded, so no scheme or host survives."""
    url = quote(path.replace("\\", "/"), safe="/-._~")
    return re.sub(r"^/+", "/", url)
