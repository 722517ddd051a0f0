from pathlib import Path

import pytest

from dubkit import fit
from dubkit.config import FitConfig, load_preset
from dubkit.script import Segment
from tests.clitools import dubkit, summary

CONFIG = FitConfig(max_speed=1.15, max_stretch=1.25, max_borrow_ms=800, min_gap_ms=80, max_end_stretch=1.5)


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


# The episode ends at 4500 ms; its last line is spoken from 2000 to 4000 ms (slot: 2000-4500).
END = 4500
LAST = _seg(9, 2000, 4000)


def _last_slot() -> fit.Slot:
    return fit.slots([_seg(1, 0, 1000), LAST], END, CONFIG)[1]


def test_earliest_start_keeps_the_gap_and_the_borrow_bound():
    assert fit.earliest_start(LAST, 1000, CONFIG) == 2000 - 800  # max_borrow_ms before the source start
    assert fit.earliest_start(LAST, 1800, CONFIG) == 1800 + 80  # min_gap_ms after the previous line's fitted end
    assert fit.earliest_start(LAST, 2300, CONFIG) == 2000  # never later than the source start
    assert fit.earliest_start(_seg(1, 300, 900), None, CONFIG) == 0


def test_a_mid_episode_line_is_unchanged():
    slot = fit.slots([_seg(1, 0, 1000), _seg(2, 1300, 2000)], 6500, CONFIG)[0]
    placed = fit.place(2000, slot, 0, 6500, CONFIG)
    assert placed == fit.Placement(0, 1.25)  # overflows its slot, played whole over the next line
    assert fit.overflow_ms(2000 / placed.stretch, slot) == 1600 - 1220
    assert fit.cut_ms(placed.start_ms, 2000 / placed.stretch, 6500) == 0


def test_an_end_line_that_fits_by_starting_earlier():
    placed = fit.place(3500, _last_slot(), fit.earliest_start(LAST, 1000, CONFIG), END, CONFIG)
    assert placed == fit.Placement(END - 2800, 1.25)  # the usual stretch, started just early enough
    assert fit.cut_ms(placed.start_ms, 3500 / placed.stretch, END) == 0


def test_an_end_line_that_needs_the_end_stretch():
    earliest = fit.earliest_start(LAST, 1800, CONFIG)
    placed = fit.place(3500, _last_slot(), earliest, END, CONFIG)
    assert placed.start_ms == earliest == 1880
    assert placed.stretch == pytest.approx(3500 / (END - 1880), abs=1e-3)
    assert CONFIG.max_stretch < placed.stretch <= CONFIG.max_end_stretch
    assert fit.cut_ms(placed.start_ms, 3500 / placed.stretch, END) == 0


def test_an_end_line_still_too_long_is_cut_and_counted():
    slot = _last_slot()
    placed = fit.place(5000, slot, fit.earliest_start(LAST, 1800, CONFIG), END, CONFIG)
    assert placed == fit.Placement(1880, 1.5)
    length = 5000 / 1.5
    assert fit.cut_ms(placed.start_ms, length, END) == 713
    assert fit.overflow_ms(length, fit.Slot(placed.start_ms, slot.end_ms)) == 713


def test_end_stretch_below_the_usual_stretch_is_refused():
    with pytest.raises(ValueError, match="max_end_stretch"):
        FitConfig(max_stretch=1.25, max_end_stretch=1.1)


@pytest.mark.slow
def test_the_last_line_of_face_4_is_heard_whole_before_the_video_ends(tmp_path, shared_media):
    """face_4's one long line, dubbed to Spanish, ran ~1 s past the clip's end and was cut mid-word. Now it ends
    with the clip: in the delivered MP4's dub track, the last 50 ms are well under the speech level (before the fix
    they were speech, at that level)."""
    from dubkit import audio, media

    clip = shared_media / "video" / "talking_heads" / "face_4.mp4"
    args = ("translate", clip, "--to", "es", "--from", "en", "--no-lipsync", "--no-qa", "-o", tmp_path / "out")
    result = summary(dubkit(*args, "--json", cache=tmp_path / "cache"))
    duration_ms = round(media.probe(clip).duration_s * 1000)
    last = result["fits"][-1]
    assert last["end_ms"] <= duration_ms and all(line["cut_ms"] == 0 for line in result["fits"])
    config = load_preset("default").synthesize.fit
    assert config.max_stretch < last["stretch"] <= config.max_end_stretch  # it needed the end's extra stretch
    dub = media.decode_audio(Path(result["output"]), 16000, 1)
    speech_db = audio.active_rms_db(dub[last["start_ms"] * 16 : last["end_ms"] * 16], 16000)
    assert audio.rms_db(dub[-50 * 16 :]) < speech_db - 20
