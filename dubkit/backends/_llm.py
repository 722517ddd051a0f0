"""What `mt_llm` says to a chat model and what it accepts back: the prompt (a Jinja template), the JSON schema of
the reply, and the reply checked against the lines asked for. Nothing here talks to a server.

A request carries a *window* of lines to translate with a few lines around it for sense. The reply must hold every
asked id exactly once, no other, each with every version asked for and none empty: anything else is a `BadReply`.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

from dubkit import languages
from dubkit.series import SeriesContext

VERSION = 2  # bump when a change here changes the bytes of a cache entry (see dubkit.cache)
KEYS = ("natural", "shorter", "shortest")  # the versions a line can be asked for, the most faithful first
_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)


class BadReply(ValueError):
    """The model's reply is not what was asked for; the message says how, in one line."""


@dataclass(frozen=True)
class Line:
    """A line as the model sees it: its id, speaker id and text; `seconds`, how long the original takes to say."""

    id: str
    speaker: str
    text: str
    seconds: float | None = None

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "text": self.text, "speaker": self.speaker}
        return data | ({"seconds": self.seconds} if self.seconds is not None else {})


@dataclass(frozen=True)
class Window:
    """Lines to translate (`asked`) and the lines around them (`before`, `after`), for sense."""

    asked: tuple[Line, ...]
    before: tuple[Line, ...] = ()
    after: tuple[Line, ...] = ()

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(line.id for line in self.asked)


def keys_for(count: int) -> tuple[str, ...]:
    return KEYS[:count]


@functools.cache
def template_text() -> str:
    return files("dubkit.data").joinpath("prompts/translate.j2").read_text(encoding="utf-8")


def template_digest() -> str:
    """The prompt's identity for cache keys: the template's own bytes, so an edit to its words re-asks."""
    return hashlib.sha256(template_text().encode()).hexdigest()[:16]


def instructions(source: str, target: str, context: SeriesContext, count: int) -> str:
    """The system message: the task, the series, the rules and the reply's shape."""
    import jinja2

    environment = jinja2.Environment(autoescape=False, undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    return environment.from_string(template_text()).render(
        source=_language(source),
        target=_language(target),
        title=context.title,
        synopsis=context.synopsis,
        register=context.register,
        characters=context.characters,
        terms=context.terms,
        keys=keys_for(count),
    )


def message(window: Window) -> str:
    """The user message: the window as JSON (the lines are data, quoted, never part of the instructions)."""
    data: dict[str, Any] = {"translate": [line.payload() for line in window.asked]}
    if window.before:
        data = {"before": [line.payload() for line in window.before], **data}
    if window.after:
        data["after"] = [line.payload() for line in window.after]
    return json.dumps(data, ensure_ascii=False, indent=1)


def schema(ids: Sequence[str], count: int) -> dict[str, Any]:
    """The JSON schema of a reply for these ids: one entry per id (from the list, none other), every version."""
    keys = keys_for(count)
    item = {
        "type": "object",
        "properties": {"id": {"type": "string", "enum": list(ids)}, **{key: {"type": "string"} for key in keys}},
        "required": ["id", *keys],
        "additionalProperties": False,
    }
    lines = {"type": "array", "items": item, "minItems": len(ids), "maxItems": len(ids)}
    return {"type": "object", "properties": {"lines": lines}, "required": ["lines"], "additionalProperties": False}


def parse(content: str | None, ids: Sequence[str], count: int) -> dict[str, tuple[str, ...]]:
    """id → its versions (at most *count*, the natural one first), from the reply *content*; a `BadReply` saying
    what is wrong with it."""
    data = _json(content)
    entries = data.get("lines") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise BadReply('the reply has no "lines" list')
    keys = keys_for(count)
    found: dict[str, tuple[str, ...]] = {}
    for entry in entries:
        line_id = entry.get("id") if isinstance(entry, dict) else None
        if not isinstance(line_id, str) or line_id not in ids:
            raise BadReply(f"the reply has a line that was not asked for ({_short(entry)})")
        if line_id in found:
            raise BadReply(f"the reply has line {line_id} twice")
        found[line_id] = _versions(entry, keys, line_id)
    missing = [line_id for line_id in ids if line_id not in found]
    if missing:
        raise BadReply(f"the reply lacks line(s) {', '.join(missing[:5])}")
    return found


def without_echoes(found: dict[str, tuple[str, ...]], window: Window) -> dict[str, tuple[str, ...]]:
    """*found* without the shorter versions that repeat another line of the window (a small model copies the lines
    it was shown for sense); a line's natural version is kept as it is, for the checks and the review to judge."""
    texts = {line.id: _folded(line.text) for line in (*window.before, *window.asked, *window.after)}
    kept = {}
    for line_id, versions in found.items():
        others = {text for other, text in texts.items() if other != line_id}
        kept[line_id] = (versions[0], *(v for v in versions[1:] if _folded(v) not in others))
    return kept


def _folded(text: str) -> str:
    return " ".join("".join(c for c in text.casefold() if c.isalnum() or c.isspace()).split())


def _json(content: str | None) -> Any:
    if not content or not content.strip():
        raise BadReply("the reply is empty")
    fenced = _FENCE.match(content)
    try:
        return json.loads(fenced.group(1) if fenced else content, strict=False)  # a raw line break in a string
    except json.JSONDecodeError as exc:
        raise BadReply(f"the reply is not valid JSON ({exc.msg} at character {exc.pos})") from None


def _versions(entry: dict[str, Any], keys: Sequence[str], line_id: str) -> tuple[str, ...]:
    """The line's versions in order, without repeats: the natural one is required, a shorter one that is empty
    is left out (the dub has the others to choose from)."""
    texts = [" ".join(text.split()) if isinstance(text := entry.get(key), str) else "" for key in keys]
    if not languages.has_words(texts[0]):
        raise BadReply(f'the reply gives line {line_id} no "{keys[0]}" translation')
    return tuple(dict.fromkeys(text for text in texts if languages.has_words(text)))


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def _language(tag: str) -> str:
    """`es` → `Spanish (es)`; a tag with a region keeps it: `pt-BR` → `Portuguese (pt-BR)`."""
    named = languages.name(tag)
    return f"{named} ({tag})" if named and named != tag else tag
