"""Burned-in subtitles fused with speech recognition: the subtitles give the text, the recognised words the timing.

The subtitles are human-written, so where an episode has them they are the better transcript; the recogniser's
words say when each line is actually spoken and by whom. `fuse` gives every recognised word to the cue it falls
under (the largest overlap; a word just outside every cue goes to the nearest one within `TOLERANCE_MS`, as
subtitles come up a little early, leave a little late, and word times are approximate). Then:

- a cue with words is a line: the cue's text, timed from its first word's start to its last word's end, spoken by
  the speaker who says most of those words (by duration); `heard` keeps the recognised text and `heard_cer` the
  character error rate between the two (letters only, Traditional and Simplified folded), for QA to flag a misread
  or an ad-lib;
- a cue with no words but inside a recognised line's span (the recogniser dropped its words) is a line at the
  cue's own times, heard as nothing (`heard` empty, `heard_cer` 1.0);
- a cue with no speech at all is an on-screen caption or a title, not dialogue: left out (and logged);
- recognised speech no cue covers (an ad-lib, a missed subtitle) stays a line of its own, its text the
  recogniser's (`heard_cer` None), so nothing spoken is lost.

Consecutive cues that are one sentence split by the subtitler stay separate lines: that split is how the drama is
timed and how its subtitles read. Only a cue shown for less time than its text takes to say (`MAX_SPOKEN_RATE`) is
joined to the cue it continues: the subtitler flashed it, and a line that short cannot be dubbed on its own.
"""

from __future__ import annotations

import bisect
import dataclasses
import logging
import statistics
import unicodedata
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from dubkit import languages
from dubkit.hardsubs.cues import Cue
from dubkit.script import Segment, Transcript, Word, sentences

log = logging.getLogger(__name__)

VERSION = 2  # bump when a change here changes the bytes of a cache entry (see dubkit.cache)
TOLERANCE_MS = 500  # a word this close to a cue (and under none) is that cue's: subtitles lead and trail speech
MAX_JOIN_GAP_MS = 300  # a too-short cue is joined to a neighbour at most this far away
# Letters per second a fast speaker says: wide (CJK) characters, a syllable each (fast Mandarin runs at 5-6), and
# other letters (fast English: about 3 words of 5 letters a second). A cue shown for less is too short to be said.
MAX_SPOKEN_RATE = {"unspaced": 8.0, "spaced": 20.0}
# Subtitles whose lines differ from what is heard by this much (the median line's character error) are no transcript
# of the speech: a translation burned in (Chinese subtitles over Russian speech), not the script's source text.
MAX_MEDIAN_CER = 0.75
LOGGED_TIMES = 3  # the first few times of the cues left out, in the log line


@dataclass(frozen=True)
class ShownCue:
    """A cue as fusion uses it: its text (whitespace cleaned) and its span in milliseconds."""

    start_ms: int
    end_ms: int
    text: str

    def joined(self, other: ShownCue) -> ShownCue:
        return ShownCue(self.start_ms, other.end_ms, sentences.join_words([self.text, other.text]))

    @property
    def too_short(self) -> bool:
        """Shown for less time than its text takes to say."""
        unspaced = sum(1 for char in self.text if _letter(char) and unicodedata.east_asian_width(char) in "WF")
        spaced = sum(1 for char in self.text if _letter(char)) - unspaced
        speakable_s = unspaced / MAX_SPOKEN_RATE["unspaced"] + spaced / MAX_SPOKEN_RATE["spaced"]
        return (self.end_ms - self.start_ms) / 1000 < speakable_s


@dataclass(frozen=True)
class _Heard:
    """A recognised word and the transcript line it belongs to."""

    word: Word
    line: Segment

    @property
    def ms(self) -> int:
        return max(self.word.end_ms - self.word.start_ms, 1)


def fuse(cues: Sequence[Cue], transcript: Transcript, language: str) -> Transcript:
    """*transcript*'s lines rewritten from the burned-in *cues*: their texts, timed and attributed through the
    recognised words, plus the recognised speech no cue covers; ids `L0001`… in time order. *language*: of the
    subtitles (and the speech), for comparing the two texts."""
    shown = shown_cues(cues)
    heard = _heard_words(transcript)
    owners = _owners([item.word for item in heard], shown)
    under: dict[int, list[_Heard]] = defaultdict(list)
    for item, owner in zip(heard, owners, strict=True):
        if owner is not None:
            under[owner].append(item)
    lines: list[Segment] = []
    captions: list[ShownCue] = []
    for index, cue in enumerate(shown):
        line = _cue_line(cue, under[index], transcript, language)
        if line is None:
            captions.append(cue)
        else:
            lines.append(line)
    uncovered = _uncovered_lines([item for item, owner in zip(heard, owners, strict=True) if owner is None])
    _log_counts(lines, uncovered, captions)
    ordered = sorted([*lines, *uncovered], key=lambda s: (s.start_ms, s.end_ms))
    numbered = tuple(dataclasses.replace(line, id=f"L{index:04d}") for index, line in enumerate(ordered, start=1))
    return Transcript(transcript.language, numbered, transcript.language_probability)


def transcribes(fused: Transcript) -> bool:
    """Whether the subtitles *fused* took its text from are what is said: its cue lines' median OCR-vs-ASR character
    error is under `MAX_MEDIAN_CER` (subtitles in another language than the speech miss nearly every character;
    a misread or an ad-lib misses a few, in a line or two). True where no line came from a cue."""
    errors = [line.heard_cer for line in fused.segments if line.heard_cer is not None]
    return not errors or statistics.median(errors) < MAX_MEDIAN_CER


def shown_cues(cues: Sequence[Cue]) -> list[ShownCue]:
    """The cues with text, in time order, whitespace cleaned; a cue too short to be said is joined to the cue it
    runs into (else to the one before it, when either is within `MAX_JOIN_GAP_MS`)."""
    spans = [
        ShownCue(round(cue.start_s * 1000), round(cue.end_s * 1000), cleaned_text(cue.text))
        for cue in sorted(cues, key=lambda c: c.start_s)
    ]
    spans = [span for span in spans if span.text and span.end_ms > span.start_ms]
    out: list[ShownCue] = []
    carried: ShownCue | None = None
    for index, span in enumerate(spans):
        if carried is not None:
            span, carried = carried.joined(span), None
        if not span.too_short:
            out.append(span)
        elif index + 1 < len(spans) and spans[index + 1].start_ms - span.end_ms <= MAX_JOIN_GAP_MS:
            carried = span
        elif out and span.start_ms - out[-1].end_ms <= MAX_JOIN_GAP_MS:
            out[-1] = out[-1].joined(span)
        else:
            out.append(span)
    return out


def cleaned_text(text: str) -> str:
    """*text* with its whitespace collapsed, and none left between characters of scripts written without spaces
    (OCR reads a gap between two Chinese characters as a space)."""
    return sentences.join_words(text.split())


def ocr_asr_cer(read: str, heard: str, language: str) -> float:
    """Character error rate of *heard* against *read*, over letters and digits only (punctuation and spaces
    dropped, case and width folded, Chinese folded to Simplified): 0.0 both empty, 1.0 only *read* empty."""
    import jiwer

    reference, hypothesis = _letters(read, language), _letters(heard, language)
    if not reference:
        return 0.0 if not hypothesis else 1.0
    if not hypothesis:
        return 1.0
    return round(float(jiwer.cer(reference, hypothesis)), 4)


def _letters(text: str, language: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    if languages.is_chinese(language):
        text = languages.chinese_converter("t2s")(text)
    return "".join(char for char in text if _letter(char))


def _letter(char: str) -> bool:
    return unicodedata.category(char)[0] in "LN"


def _heard_words(transcript: Transcript) -> list[_Heard]:
    """Every recognised word in time order; a line without word times counts as one word."""
    heard = [
        _Heard(word, line)
        for line in transcript.segments
        for word in (line.words or (Word(line.start_ms, line.end_ms, line.text),))
    ]
    return sorted(heard, key=lambda item: (item.word.start_ms, item.word.end_ms))


def _owners(words: Sequence[Word], shown: Sequence[ShownCue]) -> list[int | None]:
    """The cue each word falls under: the one it overlaps most, else the nearest within `TOLERANCE_MS`; None.
    Only the cues that start near a word are tried (by bisection on the starts), so an episode's hundreds of cues
    and thousands of words take milliseconds."""
    starts = [cue.start_ms for cue in shown]
    longest = max((cue.end_ms - cue.start_ms for cue in shown), default=0)
    owners: list[int | None] = []
    for word in words:
        first = bisect.bisect_left(starts, word.start_ms - TOLERANCE_MS - longest)
        last = bisect.bisect_right(starts, word.end_ms + TOLERANCE_MS)
        best, best_overlap = None, -TOLERANCE_MS - 1
        for index in range(first, last):
            cue = shown[index]
            overlap = min(word.end_ms, cue.end_ms) - max(word.start_ms, cue.start_ms)  # negative: the gap between
            if overlap > best_overlap:
                best, best_overlap = index, overlap
        owners.append(best)
    return owners


def _cue_line(cue: ShownCue, under: Sequence[_Heard], transcript: Transcript, language: str) -> Segment | None:
    """The line *cue* makes from the words *under* it; None when no speech is under it at all (a caption)."""
    if under:
        heard = sentences.join_words([item.word.text for item in under])
        speaker, confidence = _attribution(under)
        return Segment(
            id="",
            start_ms=under[0].word.start_ms,
            end_ms=max(max(item.word.end_ms for item in under), under[0].word.start_ms + 1),
            text=cue.text,
            speaker=speaker,
            words=tuple(item.word for item in under if item.line.words),
            confidence=confidence,
            heard=heard,
            heard_cer=ocr_asr_cer(cue.text, heard, language),
        )
    spoken = [s for s in transcript.segments if min(s.end_ms, cue.end_ms) > max(s.start_ms, cue.start_ms)]
    if not spoken:
        return None
    speaker = max(spoken, key=lambda s: min(s.end_ms, cue.end_ms) - max(s.start_ms, cue.start_ms)).speaker
    return Segment("", cue.start_ms, cue.end_ms, cue.text, speaker=speaker, heard="", heard_cer=1.0)


def _attribution(under: Sequence[_Heard]) -> tuple[str, float | None]:
    """The speaker who says most of *under* (by duration), and the recogniser's confidence in those words' lines
    (weighted by duration; None where the recogniser gave none)."""
    said: dict[str, int] = defaultdict(int)
    for item in under:
        said[item.line.speaker] += item.ms
    scored = [(item.line.confidence, item.ms) for item in under if item.line.confidence is not None]
    total = sum(ms for _, ms in scored)
    confidence = round(sum(c * ms for c, ms in scored) / total, 4) if scored else None
    return max(said, key=lambda speaker: said[speaker]), confidence


def _uncovered_lines(uncovered: Sequence[_Heard]) -> list[Segment]:
    """Recognised speech no cue covers, a line per run of words of one transcript line."""
    runs: list[list[_Heard]] = []
    for item in uncovered:
        if runs and runs[-1][-1].line is item.line:
            runs[-1].append(item)
        else:
            runs.append([item])
    lines = []
    for run in runs:
        line = run[0].line
        text = sentences.join_words([item.word.text for item in run])
        start, end = run[0].word.start_ms, max(item.word.end_ms for item in run)
        words = tuple(item.word for item in run if line.words)
        lines.append(
            Segment(
                "", start, max(end, start + 1), text, line.speaker, words=words, confidence=line.confidence, heard=text
            )
        )
    return lines


def _log_counts(lines: Sequence[Segment], uncovered: Sequence[Segment], captions: Sequence[ShownCue]) -> None:
    unheard = sum(1 for line in lines if not line.heard)
    log.info(
        "%d lines from burned-in subtitles (%d with no words heard), %d lines of speech no subtitle covers",
        len(lines),
        unheard,
        len(uncovered),
    )
    if captions:
        times = ", ".join(f"{cue.start_ms / 1000:.1f} s" for cue in captions[:LOGGED_TIMES])
        more = ", …" if len(captions) > LOGGED_TIMES else ""
        log.info("%d subtitles with no speech under them left out as captions (at %s%s)", len(captions), times, more)
