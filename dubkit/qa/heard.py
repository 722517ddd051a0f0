"""What a dub says, line by line: its soundtrack transcribed once, the words shared out among the lines.

The words go to the lines in order, each to the line whose translation has it near where that line was
planned to sound (`assign_words`: a line may run past its slot, a line may be silent). Word times are loose —
Whisper's first word often starts in the silence before it — so each line's span is then narrowed to where
its speech is actually loud (`refined`).
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dubkit import media
from dubkit.backends.base import Transcriber
from dubkit.job import LineFit
from dubkit.lipsync import sync
from dubkit.script import Script, Segment, Word

VERSION = 1  # bump when a change here changes the bytes of a cache entry (see dubkit.cache)
RATE = 16000
SLOT_SLACK_S = (0.5, 1.5)  # a dubbed line may start this early and end this late without cost
NEAR_COST = 0.15  # per second a word lies outside its line's planned span
DRIFT_COST = 0.5  # per second further out than the slack
SPAN_SEARCH_MS = 300  # a line's speech is looked for this far beyond its words' times
SPAN_DROP_DB = 25.0  # speech is what comes within this much of the line's loudest moment


@dataclass(frozen=True)
class Heard:
    """What the re-transcription heard in one line's slot."""

    text: str
    start_ms: int | None
    end_ms: int | None


def hear(
    dubbed: Path,
    script: Script,
    fits: Mapping[str, LineFit],
    transcriber: Transcriber,
    audio: np.ndarray,
) -> dict[str, Heard]:
    """Line id → what the dubbed soundtrack (*audio*: its 16 kHz mono samples) says for that line."""
    with tempfile.TemporaryDirectory(prefix="dubkit-qa-") as tmp:
        wav = media.extract_audio(dubbed, Path(tmp) / "dub.wav", RATE, 1)
        transcript = transcriber.transcribe(wav, script.target_language)
    words = [word for segment in transcript.segments for word in _words_of(segment)]
    owners = assign_words(words, script, fits)
    found: dict[str, list[Word]] = {s.id: [] for s in script.segments}
    for word, owner in zip(words, owners, strict=True):
        found[script.segments[owner].id].append(word)
    heard = {line: _heard(words) for line, words in found.items()}
    return refined(heard, [s.id for s in script.segments], audio)


def _heard(words: Sequence[Word]) -> Heard:
    if not words:
        return Heard("", None, None)
    return Heard(" ".join(w.text.strip() for w in words), words[0].start_ms, words[-1].end_ms)


def assign_words(words: Sequence[Word], script: Script, fits: Mapping[str, LineFit]) -> list[int]:
    """The line each heard word belongs to, in order (a dubbed line may run past its slot, a line may be silent):
    the monotonic assignment that best matches the words to the lines' translations, near where each line was
    planned to sound (a word gains 1 when its line's translation has it, loses `NEAR_COST` per second outside the
    line's planned span and `DRIFT_COST` per second outside that span widened by `SLOT_SLACK_S`)."""
    from dubkit.qa.wer import normalize

    language = script.target_language
    bags = [set(normalize(s.translation, language).split()) for s in script.segments]
    spans = [planned(s, fits.get(s.id)) for s in script.segments]
    if not words or not bags:
        return []
    score = np.array(
        [[_word_score(w, bag, span, language) for bag, span in zip(bags, spans, strict=True)] for w in words]
    )
    best = np.empty_like(score)
    came = np.zeros(score.shape, dtype=np.int64)
    best[0] = score[0]
    for w in range(1, len(words)):
        prefix = np.maximum.accumulate(best[w - 1])
        came[w] = _prefix_argmax(best[w - 1])
        best[w] = score[w] + prefix
    owners = [int(np.argmax(best[-1]))]
    for w in range(len(words) - 1, 0, -1):
        owners.append(int(came[w][owners[-1]]))
    return owners[::-1]


def _word_score(word: Word, bag: set[str], span: tuple[int, int], language: str) -> float:
    from dubkit.qa.wer import normalize

    tokens = normalize(word.text, language).split()
    match = sum(token in bag for token in tokens) / len(tokens) if tokens else 0.0
    middle = (word.start_ms + word.end_ms) / 2000
    outside = max(0.0, span[0] / 1000 - middle, middle - span[1] / 1000)
    beyond = max(0.0, span[0] / 1000 - SLOT_SLACK_S[0] - middle, middle - span[1] / 1000 - SLOT_SLACK_S[1])
    return match - NEAR_COST * outside - DRIFT_COST * beyond


def _prefix_argmax(values: np.ndarray) -> np.ndarray:
    """For each position, the index of the largest value at or before it (the earliest of equals: a word the
    lines tie on stays with the line before)."""
    index = np.zeros(len(values), dtype=np.int64)
    for position in range(1, len(values)):
        index[position] = position if values[position] > values[index[position - 1]] else index[position - 1]
    return index


def refined(heard: dict[str, Heard], order: Sequence[str], audio: np.ndarray) -> dict[str, Heard]:
    """Word times are loose (Whisper's first word often starts in the silence before it): each line's span is
    narrowed to where its speech is actually loud (`speech_span`), never reaching into its neighbours'."""
    out = dict(heard)
    spans = [heard[line] for line in order]
    for index, line in enumerate(order):
        start, end = spans[index].start_ms, spans[index].end_ms
        if start is None or end is None:
            continue
        before = max((h.end_ms for h in spans[:index] if h.end_ms is not None), default=0)
        after = min(
            (h.start_ms for h in spans[index + 1 :] if h.start_ms is not None), default=len(audio) * 1000 // RATE
        )
        span = speech_span(audio, start, end, before, after)
        out[line] = Heard(spans[index].text, *span)
    return out


def speech_span(audio: np.ndarray, start_ms: int, end_ms: int, floor_ms: int, ceiling_ms: int) -> tuple[int, int]:
    """Where speech around [start_ms, end_ms] (searched `SPAN_SEARCH_MS` further, within the floor and ceiling)
    rises above `SPAN_DROP_DB` under its peak, in 10 ms steps; the word span itself when nothing is louder."""
    lo = max(floor_ms, start_ms - SPAN_SEARCH_MS, 0)
    hi = min(ceiling_ms, end_ms + SPAN_SEARCH_MS)
    if hi - lo < 30:
        return start_ms, end_ms
    times = np.arange(lo, hi, 10) / 1000
    envelope = sync.envelope_near(audio, RATE, times, margin_s=0.05, window_ms=20.0)  # filters only this stretch
    level = 20 * np.log10(np.maximum(envelope, 1e-6))
    loud = np.flatnonzero(level >= level.max() - SPAN_DROP_DB)
    return int(lo + 10 * loud[0]), int(lo + 10 * loud[-1] + 10)


def _words_of(segment: Segment) -> tuple[Word, ...]:
    if segment.words:
        return segment.words
    return (Word(segment.start_ms, segment.end_ms, segment.text),) if segment.text.strip() else ()


def planned(segment: Segment, fit: LineFit | None) -> tuple[int, int]:
    """Where the dubbed line was meant to sound: the fit's span, else the source line's."""
    return (fit.start_ms, fit.end_ms) if fit else (segment.start_ms, segment.end_ms)
