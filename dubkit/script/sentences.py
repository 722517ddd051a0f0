"""Regroup ASR segments into sentence-like lines (Whisper segments cut sentences mid-way).

Chinese is written without spaces and Whisper times it per token (a character or two), so a token boundary is not a
word boundary: there, jieba's segmenter says where words end, a line is only ever cut between words, and lines are
kept to a drama's length (`UNSPACED_MAX_MS`). Everything else is pure Python.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dubkit import languages
from dubkit.errors import BackendUnavailable
from dubkit.script import Segment, Word

VERSION = 3  # bump when a change here changes the bytes of a cache entry (see dubkit.cache)
UNSPACED_MAX_MS = 5000  # a Chinese line longer than this is cut at its best break between words
SENTENCE_END = ".?!…。？！"
CLAUSE_END = ",;:，、；："
CLOSERS = "\"'”’»)]}）」』】"
# Mandarin particles that close the words before them (的 of 敬仰的, 了, 吗 …): a line never opens with one
PARTICLES = frozenset("的地得了着过吗呢吧啊嘛呀")
OPENERS = "¿¡([{«“‘（「『【"
ABBREVIATIONS = frozenset(
    {"mr", "mrs", "ms", "dr", "prof", "st", "sr", "jr", "vs", "etc", "e.g", "i.e", "sra", "srta", "dra"}
)
_NO_SPACE = (
    (0x0E00, 0x0EFF),  # Thai, Lao
    (0x1000, 0x109F),  # Myanmar
    (0x1780, 0x17FF),  # Khmer
    (0x3000, 0x30FF),  # CJK punctuation, Hiragana, Katakana
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFF00, 0xFFEF),  # full-width forms
)
_PIECE = re.compile(r".+?(?:[.?!…。？！,;:，、；：]+[\"'”’»)\]}）」』】]*(?=\s|$)|[。？！，、；：]+|$)", re.S)


@dataclass(frozen=True)
class _Unit:
    """A word, or a piece of a segment that has no words; the atoms lines are made of."""

    text: str
    start_ms: int
    end_ms: int
    speaker: str
    word: Word | None
    confidence: float | None
    joins_next: bool = False  # the next unit continues this one's word: no line may end here


def merge_sentences(
    segments: Sequence[Segment], max_ms: int = 12000, pause_ms: int = 800, language: str = ""
) -> tuple[Segment, ...]:
    """Regroup words into lines ending at sentence punctuation, pauses ≥ `pause_ms` or speaker changes.

    Lines longer than `max_ms` are split at the best comma or pause. Ids are `L0001`… in time order. For Chinese
    (*language* `zh`…) lines are cut only between words and at most `UNSPACED_MAX_MS` long.
    """
    units = [unit for segment in sorted(segments, key=lambda s: s.start_ms) for unit in _units(segment)]
    if languages.is_chinese(language):
        units = _mark_words(units, pause_ms)
        max_ms = min(max_ms, UNSPACED_MAX_MS)
    lines: list[list[_Unit]] = []
    current: list[_Unit] = []
    for unit in units:
        if current and (unit.speaker != current[-1].speaker or unit.start_ms - current[-1].end_ms >= pause_ms):
            lines.append(current)
            current = []
        current.append(unit)
        if ends_sentence(unit.text):
            lines.append(current)
            current = []
    if current:
        lines.append(current)
    pieces = [piece for line in lines for piece in _split_long(line, max_ms)]
    return tuple(_segment(f"L{index:04d}", piece) for index, piece in enumerate(pieces, start=1))


def ends_sentence(text: str) -> bool:
    """True if `text` ends with sentence-final punctuation (not an abbreviation like `Mr.`)."""
    core = text.rstrip(CLOSERS + " ")
    if not core or core[-1] not in SENTENCE_END:
        return False
    if core.endswith(".") and not core.endswith(".."):
        token = core.split()[-1].lstrip(OPENERS).lower()
        return token[:-1] not in ABBREVIATIONS and not re.fullmatch(r"(\w\.)+", token)
    return True


def join_words(parts: Sequence[str]) -> str:
    """Join word texts with single spaces, except around CJK/Thai characters and inside punctuation."""
    out = ""
    for part in (p.strip() for p in parts):
        if not part:
            continue
        if out and _needs_space(out[-1], part[0]) and not _compound(out, part):
            out += " "
        out += part
    return out


def _compound(left: str, right: str) -> bool:
    """Whisper splits hyphenated words into tokens: "ill" + "-disposed", "twenty-" + "five"."""
    joins_right = right[0] == "-" and right[1:2].isalnum()
    joins_left = left[-1] == "-" and left[-2:-1].isalnum() and right[0].isalnum()
    return joins_right or joins_left


def _needs_space(left: str, right: str) -> bool:
    if _no_space_script(left) or _no_space_script(right):
        return False
    return right not in SENTENCE_END + CLAUSE_END + CLOSERS + "%" and left not in OPENERS


def _no_space_script(char: str) -> bool:
    code = ord(char)
    return any(low <= code <= high for low, high in _NO_SPACE)


def _units(segment: Segment) -> list[_Unit]:
    if segment.words:
        return [
            _Unit(w.text.strip(), w.start_ms, w.end_ms, segment.speaker, w, w.probability)
            for w in segment.words
            if w.text.strip()
        ]
    return _text_units(segment)


def _text_units(segment: Segment) -> list[_Unit]:
    """Split a word-less segment at sentence/clause punctuation; times interpolated by character count."""
    pieces = [m.group(0).strip() for m in _PIECE.finditer(segment.text) if m.group(0).strip()]
    total = sum(len(p) for p in pieces) or 1
    units, done = [], 0
    for piece in pieces:
        start = segment.start_ms + segment.duration_ms * done // total
        done += len(piece)
        end = segment.start_ms + segment.duration_ms * done // total
        units.append(_Unit(piece, start, end, segment.speaker, None, segment.confidence))
    return units


def _split_long(line: list[_Unit], max_ms: int) -> list[list[_Unit]]:
    """Recursively split a line longer than `max_ms` at its best break."""
    cuts = [i for i in range(1, len(line)) if not line[i - 1].joins_next]
    if not cuts or line[-1].end_ms - line[0].start_ms <= max_ms:
        return [line]
    cut = max(cuts, key=lambda i: _break_score(line, i))
    return _split_long(line[:cut], max_ms) + _split_long(line[cut:], max_ms)


def _mark_words(units: list[_Unit], pause_ms: int) -> list[_Unit]:
    """*units* with `joins_next` set where the next unit goes on with the same word, by jieba's segmentation of each
    run of speech (a speaker change or a pause of `pause_ms` always ends a word)."""
    marked: list[_Unit] = []
    run: list[_Unit] = []
    for unit in units:
        if run and (unit.speaker != run[-1].speaker or unit.start_ms - run[-1].end_ms >= pause_ms):
            marked += _marked_run(run)
            run = []
        run.append(unit)
    return marked + _marked_run(run)


def _marked_run(run: list[_Unit]) -> list[_Unit]:
    ends = {end for _, _, end in _segmenter().tokenize("".join(u.text for u in run))}
    marked, offset = [], 0
    for unit in run:
        offset += len(unit.text)
        marked.append(dataclasses.replace(unit, joins_next=offset not in ends))
    return marked


@functools.cache
def _segmenter() -> Any:  # a jieba.Tokenizer
    """jieba's tokenizer with its own dictionary (in the wheel), loaded once per process."""
    try:
        import jieba
    except ImportError as exc:
        raise BackendUnavailable(
            "sentences/zh", f"jieba is not installed ({exc})", "pip install 'dubkit[zh]'"
        ) from None
    jieba.setLogLevel(logging.WARNING)  # it logs its dictionary loading at DEBUG to stderr
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    return tokenizer


def _break_score(line: list[_Unit], cut: int) -> float:
    """How good a break before `line[cut]` is: clause punctuation, a pause, and balance of the halves; a break
    that would open a line with a particle is the last resort."""
    left, right = line[cut - 1], line[cut]
    total = max(1, line[-1].end_ms - line[0].start_ms)
    balance = min(left.end_ms - line[0].start_ms, line[-1].end_ms - right.start_ms) / total
    punctuation = 1500 if left.text.rstrip(CLOSERS)[-1:] in CLAUSE_END else 0
    particle = -5000 if right.text[:1] in PARTICLES else 0
    return punctuation + particle + min(1000, right.start_ms - left.end_ms) + 2000 * balance


def _segment(line_id: str, units: list[_Unit]) -> Segment:
    start, end = units[0].start_ms, max(u.end_ms for u in units)
    words = tuple(u.word for u in units if u.word is not None)
    scores = [u.confidence for u in units if u.confidence is not None]
    return Segment(
        id=line_id,
        start_ms=start,
        end_ms=max(end, start + 1),
        text=join_words([u.text for u in units]),
        speaker=units[0].speaker,
        words=words,
        confidence=round(sum(scores) / len(scores), 4) if scores else None,
    )
