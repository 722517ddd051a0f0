"""Timing fit: how much room each dubbed line has, and how to make its speech fit that room.

Order of means: borrow the silence after the line (up to `max_borrow_ms`, never into the next line),
then ask the engine for a faster but natural speaking rate (≤ `max_speed`), then time-stretch
(≤ `max_stretch`). What still does not fit overflows: it is played whole, over the next line, and counted.

Past the episode's end nothing can be played: the delivered video stops there. So a line that would run past it is
fitted as a dubbing editor would (`place`): first started earlier, into the silence before it; then stretched
further (≤ `max_end_stretch`); what still does not fit is counted as overflow and reported cut (`cut_ms`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from dubkit.config import FitConfig
from dubkit.script import Segment

VERSION = 1  # bump when a change here changes the bytes of a cache entry (see dubkit.cache)


@dataclass(frozen=True)
class Slot:
    start_ms: int
    end_ms: int

    @property
    def ms(self) -> int:
        return self.end_ms - self.start_ms


def slots(segments: Sequence[Segment], duration_ms: int, fit: FitConfig) -> list[Slot]:
    """The room of each line: from its source start to its source end plus borrowed silence."""
    out = []
    for index, segment in enumerate(segments):
        following = segments[index + 1].start_ms if index + 1 < len(segments) else duration_ms + fit.min_gap_ms
        limit = min(segment.end_ms + fit.max_borrow_ms, following - fit.min_gap_ms, duration_ms)
        limit = max(limit, min(segment.end_ms, following, duration_ms), segment.start_ms + 1)
        out.append(Slot(segment.start_ms, limit))
    return out


def speed_for(speech_ms: float, slot: Slot, max_speed: float) -> float:
    """The engine speaking rate that fits the slot, never slower than natural, at most max_speed."""
    need = speech_ms / max(slot.ms, 1)
    return round(min(max(math.ceil(need * 100 - 1e-9) / 100, 1.0), max_speed), 2)


def stretch_for(speech_ms: float, slot: Slot, max_stretch: float) -> float:
    """The time-stretch factor (>1 = shorter) that fits the slot, bounded by max_stretch."""
    need = speech_ms / max(slot.ms, 1)
    if need <= 1.0:
        return 1.0
    return round(min(math.ceil(need * 1000 - 1e-9) / 1000, max_stretch), 3)


def overflow_ms(speech_ms: float, slot: Slot) -> int:
    return max(0, int(round(speech_ms - slot.ms)))


@dataclass(frozen=True)
class Placement:
    """Where a take is played and the time-stretch applied to it."""

    start_ms: int
    stretch: float


def earliest_start(segment: Segment, previous_end_ms: int | None, fit: FitConfig) -> int:
    """How early a line the episode's end would cut may start: into the silence before it, `min_gap_ms` after the
    previous line's fitted end, and at most `max_borrow_ms` before its source start — the lead a viewer accepts
    before the mouth moves is about the lag the fit already accepts after it. Never later than its source start."""
    floor = segment.start_ms - fit.max_borrow_ms
    if previous_end_ms is not None:
        floor = max(floor, previous_end_ms + fit.min_gap_ms)
    return min(segment.start_ms, max(floor, 0))


def place(take_ms: float, slot: Slot, earliest_ms: int, duration_ms: int, fit: FitConfig) -> Placement:
    """The start and stretch of a take (at the chosen speaking rate) in its slot. A take that ends within the episode
    stays at the slot's start with its usual stretch (≤ `max_stretch`); one that would end past it starts earlier,
    down to *earliest_ms*, then is stretched up to `max_end_stretch` to end at the episode's end."""
    stretch = stretch_for(take_ms, slot, fit.max_stretch)
    if slot.start_ms + take_ms / stretch <= duration_ms:
        return Placement(slot.start_ms, stretch)
    start = min(slot.start_ms, max(earliest_ms, duration_ms - math.ceil(take_ms / stretch)))
    room = Slot(start, max(duration_ms, start + 1))
    return Placement(start, max(stretch, stretch_for(take_ms, room, fit.max_end_stretch)))


def cut_ms(start_ms: int, speech_ms: float, duration_ms: int) -> int:
    """How much of a line placed at *start_ms* the episode's end cuts off."""
    return max(0, int(round(start_ms + speech_ms - duration_ms)))
