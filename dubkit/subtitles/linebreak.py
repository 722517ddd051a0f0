"""Subtitle text: a dubbed line's translation cut into cue texts, and each cue into balanced lines.

Words are the units; in text written without spaces (Chinese, Japanese) each character is one, with closing
punctuation kept on the character before it. Breaks prefer the end of a sentence, then of a clause (after
`,` `;` `:`), and lines are balanced; a line of a single word is left only when nothing else fits. A word
longer than a whole line (a URL) is cut into line-long pieces: the limits are kept, no text is dropped.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass

VERSION = 1  # bump when a change here changes the bytes of a cache entry (see dubkit.cache)
SENTENCE_END = ".!?…。！？"
CLAUSE_END = ",;:—–、，；："
ORPHAN_PENALTY = 10.0  # a one-word line costs more than any imbalance
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f"
_PIECES = re.compile(rf"[{_CJK}]|[^{_CJK}]+")
_HAS_CJK = re.compile(rf"[{_CJK}]")
# Japanese kinsoku: characters a line must not start with (they stay on the character before them).
_NO_LINE_START = set("、。，．・！？：；」』）】〕〉》”’ーぁぃぅぇぉっゃゅょゎァィゥェォッャュョヮヵヶ…")
_NO_LINE_END = set("「『（【〔〈《“‘")


@dataclass(frozen=True)
class Token:
    """A unit that is never broken: a word, or a character of unspaced text; `glued`: no space before it."""

    text: str
    glued: bool = False


@dataclass(frozen=True)
class Limits:
    max_chars: int
    max_lines: int


def tokenize(text: str, max_chars: int) -> list[Token]:
    """The words of *text* (characters where it has no spaces); a word longer than *max_chars* is cut up."""
    found: list[Token] = []
    for word in text.split():
        pieces = _PIECES.findall(word) if _HAS_CJK.search(word) else [word]
        for index, piece in enumerate(_attach_punctuation(pieces)):
            for offset in range(0, len(piece), max_chars):
                found.append(Token(piece[offset : offset + max_chars], glued=index > 0 or offset > 0))
    return found


def _attach_punctuation(pieces: list[str]) -> list[str]:
    """Closing marks joined to the piece before them, opening marks to the piece after them."""
    out: list[str] = []
    pending = ""
    for piece in pieces:
        if out and not pending and piece[0] in _NO_LINE_START:
            out[-1] += piece
        elif piece[-1] in _NO_LINE_END and len(piece) == 1:
            pending += piece
        else:
            out.append(pending + piece)
            pending = ""
    if pending and out:
        out[-1] += pending
    elif pending:
        out.append(pending)
    return out


def joined(tokens: Sequence[Token]) -> str:
    return "".join(t.text if i == 0 or t.glued else f" {t.text}" for i, t in enumerate(tokens))


def width(tokens: Sequence[Token]) -> int:
    return len(joined(tokens))


def fits(tokens: Sequence[Token], limits: Limits) -> bool:
    """Whether the tokens can be set in `max_lines` lines of `max_chars` (greedy filling uses the fewest lines)."""
    return len(_greedy_lines(tokens, limits.max_chars)) <= limits.max_lines


def _greedy_lines(tokens: Sequence[Token], max_chars: int) -> list[list[Token]]:
    lines: list[list[Token]] = [[]]
    size = 0
    for token in tokens:
        added = len(token.text) + (1 if lines[-1] and not token.glued else 0)
        if lines[-1] and size + added > max_chars:
            lines.append([])
            size, added = 0, len(token.text)
        lines[-1].append(token)
        size += added
    return lines


def break_cost(token: Token) -> float:
    """What ending a line or a cue after *token* costs: nothing after a sentence, a little after a clause."""
    last = token.text.rstrip("\"'”’»)]」』）")[-1:] or token.text[-1]
    return 0.0 if last in SENTENCE_END else 0.4 if last in CLAUSE_END else 1.0


def split_cues(tokens: Sequence[Token], limits: Limits, at_least: int = 1) -> list[list[Token]]:
    """The fewest cues (≥ *at_least*, ≤ one per token) that each fit the limits, balanced, cut at punctuation."""
    if not tokens:
        return []
    fewest = -(-width(tokens) // (limits.max_chars * limits.max_lines + limits.max_lines))  # no cue holds more
    for count in range(min(max(at_least, fewest, 1), len(tokens)), len(tokens) + 1):
        bounds = _best_partition(tokens, limits, count)
        if bounds is not None:
            return [list(tokens[a:b]) for a, b in itertools.pairwise(bounds)]
    raise AssertionError("one token per cue always fits")  # tokens are at most max_chars long


def _best_partition(tokens: Sequence[Token], limits: Limits, count: int) -> list[int] | None:
    """Cut positions (0 … n) into exactly *count* fitting cues at least cost, or None when impossible."""
    n = len(tokens)
    target = width(tokens) / count
    budget = limits.max_chars * limits.max_lines + limits.max_lines
    best: list[dict[int, tuple[float, int]]] = [{0: (0.0, -1)}]  # best[k][j] = (cost, previous cut)
    for k in range(1, count + 1):
        row: dict[int, tuple[float, int]] = {}
        for start, (cost, _) in best[k - 1].items():
            for end in range(start + 1, n + 1):
                group = tokens[start:end]
                size = width(group)
                if size > budget:
                    break
                if not fits(group, limits):
                    continue
                total = cost + ((size - target) / target) ** 2 + (break_cost(tokens[end - 1]) if end < n else 0.0)
                if end not in row or total < row[end][0]:
                    row[end] = (total, start)
        best.append(row)
    if n not in best[count]:
        return None
    cuts, position = [n], n
    for k in range(count, 0, -1):
        position = best[k][position][1]
        cuts.append(position)
    return cuts[::-1]


def set_lines(tokens: Sequence[Token], limits: Limits) -> list[str]:
    """The cue's text in as few lines as fit, balanced, broken after punctuation where it costs little."""
    if not tokens:
        return []
    needed = len(_greedy_lines(tokens, limits.max_chars))
    if needed == 1:
        return [joined(tokens)]
    best: tuple[float, tuple[int, ...]] | None = None
    for cuts in itertools.combinations(range(1, len(tokens)), needed - 1):
        bounds = (0, *cuts, len(tokens))
        lines = [tokens[a:b] for a, b in itertools.pairwise(bounds)]
        sizes = [width(line) for line in lines]
        if max(sizes) > limits.max_chars:
            continue
        cost = (max(sizes) - min(sizes)) / sum(sizes) + sum(0.3 * break_cost(tokens[c - 1]) for c in cuts)
        cost += ORPHAN_PENALTY * sum(len(line) == 1 for line in lines) if len(tokens) > needed else 0.0
        if best is None or cost < best[0]:
            best = (cost, bounds)
    assert best is not None  # the greedy filling is one such choice
    return [joined(tokens[a:b]) for a, b in itertools.pairwise(best[1])]
