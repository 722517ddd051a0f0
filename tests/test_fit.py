from dubkit import fit
from dubkit.config import FitConfig
from dubkit.script import Segment

CONFIG = FitConfig(max_speed=1.15, max_stretch=1.25, max_borrow_ms=800, min_gap_ms=80)


def _seg(i: int, start: int, end: int) -> Segment:
    return Segment(f"L{i}", start, end, "x")


def test_slot_borrows_silence_but_never_the_next_line():
    segments = [_seg(1, 0, 1000), _seg(2, 1300, 2000), _seg(3, 5000, 6000)]
    slots = fit.slots(segments, 6500, CONFIG)
    assert slots[0].end_ms == 1300 - 80
    assert slots[1].end_ms == 2000 + 800
    assert slots[2].end_ms == 6500


def test_slot_keeps_at_least_the_source_line():
    segments = [_seg(1, 0, 1000), _seg(2, 1020, 2000)]
    assert fit.slots(segments, 3000, CONFIG)[0].end_ms == 1000


def test_speed_is_natural_when_it_fits_and_bounded_when_not():
    slot = fit.Slot(0, 1000)
    assert fit.speed_for(900, slot, 1.15) == 1.0
    assert fit.speed_for(1100, slot, 1.15) == 1.1
    assert fit.speed_for(3000, slot, 1.15) == 1.15


def test_stretch_bounded_and_overflow_counted():
    slot = fit.Slot(0, 1000)
    assert fit.stretch_for(1000, slot, 1.25) == 1.0
    assert fit.stretch_for(1100, slot, 1.25) == 1.1
    assert fit.stretch_for(2000, slot, 1.25) == 1.25
    assert fit.overflow_ms(1600, slot) == 600
    assert fit.overflow_ms(900, slot) == 0
