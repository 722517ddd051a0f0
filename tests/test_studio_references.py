"""Choosing clean reference lines per speaker for voice cloning (dubkit.casting.references)."""

from __future__ import annotations

import numpy as np
import soundfile

from dubkit.audio import write_wav
from dubkit.casting import references
from dubkit.casting.voices import Voice
from dubkit.script import Segment


def _line(id_: str, start: int, end: int, speaker: str, confidence: float | None = None) -> Segment:
    return Segment(id=id_, start_ms=start, end_ms=end, text="x", speaker=speaker, confidence=confidence)


SCENE = (
    _line("L1", 0, 4000, "A"),
    _line("L2", 4100, 9000, "B"),  # starts 100 ms after A's L1
    _line("L3", 10000, 16000, "A"),  # A's longest
    _line("L4", 16200, 17000, "B"),  # starts 200 ms after A's L3; too short to be B's reference
    _line("L5", 20000, 20800, "A"),  # too short
    _line("L6", 22000, 25000, "B"),
    _line("L7", 30000, 33000, "A"),  # L7 and L8 overlap: neither is clean
    _line("L8", 32000, 35000, "B"),
)


def test_longest_clean_lines_first_until_the_target():
    chosen = references.choose(SCENE, target_ms=5000, margin_ms=50)
    assert chosen["A"].segment_ids == ("L3",)  # 6 s already reaches the 5 s target
    assert chosen["A"].duration_ms == 6000
    assert chosen["B"].segment_ids == ("L2", "L6")  # 4.9 s is short of 5 s: the next longest joins, in time order
    assert chosen["B"].spans_ms == ((4100, 9000), (22000, 25000))


def test_overlap_and_margin_make_lines_unclean():
    chosen = references.choose(SCENE, target_ms=60_000, margin_ms=250)
    assert "A" not in chosen  # L1 and L3 have B within 250 ms, L5 is too short, L7 overlaps
    assert chosen["B"].segment_ids == ("L6",)


def test_a_speaker_without_clean_speech_gets_no_reference():
    scene = (_line("L1", 0, 5000, "A"), _line("L2", 1000, 4000, "B"))
    assert references.choose(scene) == {}


def test_edited_choice_is_honoured():
    chosen = references.from_ids(SCENE, ["L5", "L1", "nope"])
    assert list(chosen) == ["A"]
    assert chosen["A"].segment_ids == ("L1", "L5")  # in time order


def test_extract_joins_the_spans_with_short_gaps(tmp_path):
    rate = 16000
    tone = np.sin(np.arange(rate * 30) * 0.05).astype(np.float32) * 0.3
    write_wav(tmp_path / "speech.wav", tone, rate)
    reference = references.Reference("A", ("L1", "L3"), ((0, 4000), (10000, 16000)))
    out = references.extract(tmp_path / "speech.wav", reference, tmp_path / "ref.wav", gap_ms=150)
    info = soundfile.info(str(out))
    assert info.samplerate == rate and info.channels == 1
    assert abs(info.duration - 10.15) < 0.01


def test_cloned_voice_points_the_engine_at_the_reference(tmp_path):
    voice = Voice(name="clone", engine="coqui", language="es")
    cloned = references.cloned(voice, tmp_path / "A.wav", "A")
    assert cloned.name == "clone@A" and cloned.model_voice == str(tmp_path / "A.wav")
    assert cloned.engine == "coqui" and cloned.language == "es"
