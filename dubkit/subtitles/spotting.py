"""Spotting: when each subtitle cue comes up and goes, the way a subtitler times them.

A cue is anchored to its share of the dubbed speech. It comes up on the speech, or up to `LEAD_IN_FRAMES` frames
before it (Netflix: "timed to the audio or, if necessary, within 3 frames of it"), and stays until its text can be
read (`required_ms`: reading speed, minimum duration), running on into the silence after the speech. Where the
silence is too short, a cue borrows from its neighbours: the cue before it ends earlier (never before its own text is
read) and the cue after it comes up later, at most `MAX_DELAY_MS` after its speech, always `min_gap_frames` apart.
Where a cue would still lack time, or come up late at all, two consecutive lines that each fit on one line and are
spoken within `MERGE_WITHIN_MS` of each other are shown as one two-line cue instead (from the first one's start to
the second one's end, the gap between them included; a hyphen opens each line when two speakers share it).

What no timing can give is shared out: the cues that cannot all be read get the same fraction of what they need,
and `subtitles.check` reports them. The drift bound yields only where speech overlaps so much that even one-frame
cues shown one after the other cannot keep it. Text is never shortened here: the cues show the script's words.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from dubkit.config import SubtitleConfig

VERSION = 1  # bump when a change here changes the bytes of a cache entry (see dubkit.cache)
LEAD_IN_FRAMES = 3  # a cue may come up this many frames before its speech
MAX_DELAY_MS = 500  # and at most this long after it, lending its first moments to the cue before it
DUAL_SPEAKER_DASH = "-"  # two speakers in one cue: each line opens with a hyphen, no space (Netflix en, es)
MERGE_REACH = 8  # a merge is judged on the cues this many either side of it
MERGE_WITHIN_MS = 1000  # the second line of a merged cue shows at most this long before it is spoken


@dataclass(frozen=True)
class Slot:
    """A cue to time: the lines it shows, each with its speaker, and the stretch of speech it belongs to."""

    line: str  # the id of the (first) script line it shows
    start_ms: int
    end_ms: int
    parts: tuple[tuple[str, str], ...]  # (speaker, text) per line of the cue
    whole: bool = True  # it shows a whole script line, not a piece of a longer one

    @functools.cached_property
    def lines(self) -> tuple[str, ...]:
        if len({speaker for speaker, _ in self.parts}) < 2:
            return tuple(text for _, text in self.parts)
        return tuple(DUAL_SPEAKER_DASH + text for _, text in self.parts)

    @functools.cached_property
    def chars(self) -> int:
        """Characters read, a line break counting as a space (as `subtitles.Cue.chars`)."""
        return len(" ".join(self.lines))


@dataclass(frozen=True)
class Timing:
    """The rules a layout keeps, in milliseconds: `limit` is the latest a cue may end (the video's end)."""

    rules: SubtitleConfig
    gap: int
    frame: int
    limit: int

    @property
    def lead_in(self) -> int:
        return LEAD_IN_FRAMES * self.frame

    def need(self, slot: Slot) -> int:
        return required_ms(slot.chars, self.rules)


def required_ms(chars: int, rules: SubtitleConfig) -> int:
    """How long a cue of *chars* characters must stay up: reading speed and minimum duration, at most the maximum."""
    reading = math.ceil(chars * 1000 / rules.max_chars_per_second)
    return min(rules.max_duration_ms, max(rules.min_duration_ms, reading))


def spot(slots: Sequence[Slot], timing: Timing) -> list[tuple[Slot, int, int]]:
    """Each cue with its (start, end): short lines merged where that gives their cues the time they need.

    Cues are visited in order; where one lacks time or comes up late (more than `LEAD_IN_FRAMES` frames after its
    speech: within that, either way, a cue is on time), merging it with the line before or after it is tried on the
    cues around it (`MERGE_REACH` either side, timed as if alone), and kept when they lack less time, or as much and
    come up less late."""
    merged = list(slots)
    times = schedule(merged, timing)
    i = 0
    while i < len(merged):
        start, end = times[i]
        off = end - start < timing.need(merged[i]) or start > merged[i].start_ms + timing.lead_in
        trial = _helpful_merge(merged, times, i, timing) if off else None
        if trial is None:
            i += 1
            continue
        merged = trial
        times = schedule(merged, timing)
        i = max(0, i - 1)
    return [(slot, start, end) for slot, (start, end) in zip(merged, times, strict=True)]


def schedule(slots: Sequence[Slot], timing: Timing) -> list[tuple[int, int]]:
    """(start, end) of each cue, in order, `gap` apart: on its speech where it can be, else as near as the
    neighbours allow (lead-in, run-on, borrowing within `MAX_DELAY_MS`); see the module docstring."""
    if not slots:
        return []
    given, high = _feasible(slots, timing)
    latest = _latest_starts(given, high, timing.gap)
    times: list[tuple[int, int]] = []
    previous_end = -timing.gap
    for i, slot in enumerate(slots):
        need = timing.need(slot)
        following = slots[i + 1].start_ms - timing.gap if i + 1 < len(slots) else timing.limit
        spills = i + 1 < len(slots) and slots[i + 1].line != slot.line  # into the next line's speech
        wanted = min(slot.start_ms, following - need) if spills else slot.start_ms  # so it need not come up late
        start = min(max(wanted, slot.start_ms - timing.lead_in, 0, previous_end + timing.gap), latest[i])
        last = min(latest[i + 1] - timing.gap, start + timing.rules.max_duration_ms)
        end = min(max(start + need, min(slot.end_ms, following)), last)  # never less than `given`: see latest
        times.append((start, end))
        previous_end = end
    return times


def _latest_starts(given: list[int], high: list[int], gap: int) -> list[int]:
    """The latest each cue may start and still leave every cue after it the time it is *given* (backward pass);
    *high* holds one more bound than there are cues: the end of the last one, plus the gap."""
    latest = list(high)
    for i in reversed(range(len(given))):
        latest[i] = min(high[i], latest[i + 1] - gap - given[i])
    return latest


def _feasible(slots: Sequence[Slot], timing: Timing) -> tuple[list[int], list[int]]:
    """What each cue can be given (its need, or a share of it) and the latest it may start (one bound more: the
    latest the last cue may end, plus the gap).

    The forward pass packs every cue as early as it may come up; where one would have to come up later than its
    bound, the run of packed cues before it gets the time there is, in proportion to what each needs. Only where
    one-frame cues still cannot keep the bound (speech overlapping speech) does the bound move."""
    need = [timing.need(slot) for slot in slots]
    low = [max(0, slot.start_ms - timing.lead_in) for slot in slots] + [0]
    high = [slot.start_ms + MAX_DELAY_MS for slot in slots] + [timing.limit + timing.gap]
    earliest = [low[0]] * len(high)
    i = 1
    while i < len(high):
        earliest[i] = max(low[i], earliest[i - 1] + need[i - 1] + timing.gap)
        if earliest[i] <= high[i]:
            i += 1
            continue
        first = i - 1
        while first > 0 and earliest[first] > low[first]:
            first -= 1
        room = high[i] - low[first] - (i - first) * timing.gap
        wanted = sum(need[first:i])
        shared = [max(min(n, timing.frame), math.floor(n * room / wanted)) for n in need[first:i]]
        if shared == need[first:i]:  # already one frame each: the speech itself leaves no room
            high[i] = earliest[i]
        need[first:i] = shared
        i = first + 1  # the cues before `first` keep their earliest starts
    return need, high


def _helpful_merge(slots: list[Slot], times: list[tuple[int, int]], i: int, timing: Timing) -> list[Slot] | None:
    """The slots with cue *i* merged into the line before or after it, where that lessens the time the cues around
    it lack (or how late they come up); else None."""
    for first in (i - 1, i):
        if not (0 <= first < len(slots) - 1 and _mergeable(slots[first], slots[first + 1], timing.rules)):
            continue
        begin, end = max(0, first - MERGE_REACH), min(len(slots), first + 2 + MERGE_REACH)
        local = dataclasses.replace(timing, limit=times[end][0] - timing.gap) if end < len(slots) else timing
        before = slots[begin:end]
        after = [*slots[begin:first], _merged(slots[first], slots[first + 1]), *slots[first + 2 : end]]
        if _shortcomings(after, local) < _shortcomings(before, local):
            return [*slots[:begin], *after, *slots[end:]]
    return None


def _shortcomings(slots: Sequence[Slot], timing: Timing) -> tuple[int, int]:
    """How much time, in all, the cues lack to be read, and how late they come up, timed alone (`LEAD_IN_FRAMES`
    frames either side of the speech are on time)."""
    times = schedule(slots, timing)
    pairs = list(zip(slots, times, strict=True))
    lacking = sum(max(0, timing.need(slot) - (end - start)) for slot, (start, end) in pairs)
    return lacking, sum(max(0, start - slot.start_ms - timing.lead_in) for slot, (start, _) in pairs)


def _mergeable(first: Slot, second: Slot, rules: SubtitleConfig) -> bool:
    """Whole lines, spoken within `MERGE_WITHIN_MS` of each other, whose lines one above the other (hyphens and all)
    fit one cue."""
    if not (first.whole and second.whole) or len(first.parts) + len(second.parts) > rules.max_lines:
        return False
    if second.start_ms - first.start_ms > MERGE_WITHIN_MS:
        return False
    return max(map(len, _merged(first, second).lines)) <= rules.max_chars_per_line


def _merged(first: Slot, second: Slot) -> Slot:
    end = max(first.end_ms, second.end_ms)
    return dataclasses.replace(first, end_ms=end, parts=first.parts + second.parts)
