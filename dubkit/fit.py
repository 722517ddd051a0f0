"""Timing fit: how much room each dubbed line has, and how to make its speech fit that room.

Order of means: borrow the silence after the line (up to `max_borrow_ms`, never into the next line),
then ask the engine for a faster but natural speaking rate (≤ `max_speed`), then time-stretch
(≤ `max_stretch`). What still does not fit overflows: it is played whole and counted, never cut.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from dubkit.config import FitConfig
from dubkit.script import Segment


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
