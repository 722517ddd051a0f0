"""`dubkit qa`: the figures of a dub, line by line, and the flags they raise — exactly where a dub is broken."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from dubkit.config import Thresholds
from dubkit.job import LineFit
from dubkit.qa import heard as heard_words
from dubkit.qa import report
from dubkit.script import Script, Segment, Word
from tests.clitools import dubkit, summary

SCHEMA = Path(report.__file__).with_name("report.schema.json")
GRID = ("bbaf2n", "lbax4n", "pwij3p", "sbwe5n", "brbk7n")  # five one-sentence clips: five lines
RATE = 48000


def _script(*lines: tuple[str, int, int, str]) -> Script:
    segments = tuple(Segment(id_, start, end, text=text, translation=text) for id_, start, end, text in lines)
    return Script("en", "es", segments, ("S1",))


def test_heard_words_go_to_the_line_that_says_them_even_when_a_line_runs_long():
    script = _script(("A", 0, 2000, "uno dos tres cuatro"), ("B", 2500, 4000, "cinco seis siete"))
    fits = {"A": LineFit("A", 0, 2900, 1.1, 1.2, 400, True), "B": LineFit("B", 2500, 4000, 1.0, 1.0, 0, True)}
    words = [
        Word(i * 700, i * 700 + 500, w)
        for i, w in enumerate(["uno", "dos", "tres", "cuatro", "cinco", "seis", "siete"])
    ]
    owners = heard_words.assign_words(words, script, fits)
    assert owners == [0, 0, 0, 0, 1, 1, 1]  # "cuatro" (2.1-2.6 s) runs past A's source end: still A's
    silent = _script(("A", 0, 1000, "hola"), ("B", 1500, 2500, "adiós"), ("C", 3000, 4000, "gracias"))
    heard = [Word(100, 600, "hola"), Word(3100, 3600, "gracias")]
    assert heard_words.assign_words(heard, silent, {}) == [0, 2]  # nothing is taken for the silent line B


def test_flags_follow_the_thresholds():
    limits = Thresholds()
    line = {
        "original": {"start_ms": 1000, "end_ms": 2000},
        "planned": {"start_ms": 1000, "end_ms": 2050},
        "dubbed": {"start_ms": 1020, "end_ms": 2100},
        "translation": "hola",
        "stretch": 1.1,
        "overflow_ms": 0,
        "duration_ratio": 1.05,
        "asr": {"text": "hola", "wer": 0.0},
        "sync": {"before": None, "after": {"offset_frames": 0.4, "confidence": 0.9}},
    }
    assert report.line_flags(line, None, limits, "es") == []
    late = {
        **line,
        "dubbed": {"start_ms": 1400, "end_ms": 2400},
        "sync": {"before": None, "after": {"offset_frames": 7.5, "confidence": 0.9}},
    }
    assert report.line_flags(late, None, limits, "es") == ["sync_offset", "start_shift"]
    mute = {**line, "dubbed": None, "duration_ratio": None, "asr": {"text": "", "wer": 1.0}}
    assert report.line_flags(mute, None, limits, "es") == ["silent"]
    long = {**line, "stretch": 1.6, "duration_ratio": 1.6, "overflow_ms": 900}
    assert report.line_flags(long, None, limits, "es") == ["stretch", "duration", "overflow"]
    cut = LineFit("L", 1000, 2050, 1.15, 1.5, 120, True, cut_ms=120)  # overflow within the limit, yet lost
    assert report.line_flags({**line, "overflow_ms": 120}, cut, limits, "es") == ["cut"]


def test_subtitle_flags_say_what_the_cues_of_the_line_break():
    from dubkit.subtitles import layout

    segment = Segment("L1", 0, 2000, "Well, uh, no.", translation="Bueno,  eh, no.")
    fast = layout.Violation("L1", 0, "max_chars_per_second", 20.4, 17.0)
    other = layout.Violation("L2", 900, "min_gap_frames", 40.0, 80.0)
    checked = layout.Report(2, (fast, other), (layout.Condensed("L1", "No."),))
    shown = report.subtitle_line(segment, checked)
    assert shown == {
        "text": "No.",
        "condensed": True,
        "broken": [{"rule": "max_chars_per_second", "start_ms": 0, "value": 20.4, "limit": 17.0}],
    }
    assert report.subtitle_flags(shown) == ["subtitle_fast"]
    readable = report.subtitle_line(segment, layout.Report(1))
    assert readable == {"text": "Bueno, eh, no.", "condensed": False, "broken": []}
    assert report.subtitle_flags(readable) == [] and report.subtitle_flags(None) == []
    edited = report.subtitle_line(replace(segment, id="L2", subtitle="No."), checked)
    assert edited["text"] == "No." and report.subtitle_flags(edited) == ["subtitle_rules"]


@pytest.fixture(scope="module")
def grid_dub(tmp_path_factory, shared_media):
    """2.5 s of black silence, five GRID sentences, 2.5 s of black silence again; dubbed en→es with lip-sync and the
    review report. The encoder starts a new group of pictures where the first sentence starts, not where the
    last one ends: the leading black is a span of its own, the trailing black shares the last sentence's."""
    from dubkit import audio, media

    work = tmp_path_factory.mktemp("qa")
    black = work / "black.png"
    from PIL import Image

    Image.new("RGB", (360, 288)).save(black)
    audio.write_wav(work / "quiet.wav", np.zeros(int(2.5 * RATE), np.float32), RATE)
    pad = media.still_video(black, work / "quiet.wav", work / "pad.mp4", size=(360, 288))
    clips = [shared_media / "video" / "grid" / f"{name}.mpg" for name in GRID]
    episode = media.concat([pad, *clips, pad], work / "grid5.mp4", 360, 288, 25)
    args = ("translate", episode, "--to", "es", "--from", "en", "-o", work / "out", "--json")
    result = summary(dubkit(*args, cache=work / "cache"))
    (work / "summary.json").write_text(json.dumps(result))
    return work, episode, result


def test_each_sync_measure_names_the_bounds_it_breaks():
    """Before and after, per line, per shot and for the episode: the page reads these instead of the thresholds."""
    limits = Thresholds(max_offset_frames=2.0, min_confidence=0.25)
    off, unsure, good = (
        {"offset_frames": -2.5, "confidence": 0.6},
        {"offset_frames": 0.1, "confidence": 0.2},
        {"offset_frames": 2.0, "confidence": 0.25},
    )
    pairs = [{"before": off, "after": good}, {"before": None, "after": unsure}]
    report.flag_syncs(pairs, limits)
    assert [off["flags"], good["flags"], unsure["flags"]] == [["sync_offset"], [], ["sync_confidence"]]
    assert report.sync_flags(None, limits) == [] and pairs[1]["before"] is None


@pytest.mark.slow
def test_the_clean_dub_lists_every_line_with_every_figure_and_flags_none(grid_dub):
    import jsonschema

    work, _, result = grid_dub
    found = json.loads((Path(result["report"]).parent / "report.json").read_text())
    jsonschema.validate(found, json.loads(SCHEMA.read_text()))
    assert [line["id"] for line in found["lines"]] == [f"L000{i}" for i in range(1, 6)]
    for line in found["lines"]:
        assert line["dubbed"] and line["asr"]["text"] and line["sync"]["before"] and line["sync"]["after"]
        assert None not in (line["stretch"], line["speed"], line["overflow_ms"], line["duration_ratio"])
        assert line["flags"] == [], line
    assert found["episode"]["flags"] == [] and found["episode"]["lines"] == {"total": 5, "flagged": 0}
    shots = found["shots"]  # black, five clips cut together (a jump cut within one speaker may not show), black
    joins = [round(2.52 + 3.0 * i, 3) for i in range(len(GRID) + 1)]
    cuts = [shot["start_s"] for shot in shots[1:]]
    assert cuts == [shot["end_s"] for shot in shots[:-1]] and {joins[0], joins[-1]} <= set(cuts) <= set(joins)
    assert shots[0]["start_s"] == 0
    assert shots[-1]["end_s"] == pytest.approx(found["episode"]["duration"]["video_s"], abs=0.1)
    assert [shot["sync"] for shot in (shots[0], shots[-1])] == [{"before": None, "after": None}] * 2
    for sync in (shot["sync"] for shot in shots[1:-1]):
        assert sync["after"] and abs(sync["after"]["offset_frames"]) <= 1, sync
        assert sync["after"]["confidence"] > (sync["before"] or {"confidence": 0})["confidence"] + 0.3, sync
    clips = found["samples"]["clips"]
    assert len(clips) == 3 and all((Path(result["report"]).parent / clip["path"]).is_file() for clip in clips)


@pytest.mark.slow
def test_a_broken_dub_is_flagged_on_the_broken_lines_and_nowhere_else(grid_dub):
    """Line 2's sound 300 ms late, line 4 silent, line 5 stretched 1.6x: flags on exactly those three lines."""
    from dubkit import audio, media

    work, episode, result = grid_dub
    fits = {fit["id"]: fit for fit in result["fits"]}
    sound = media.decode_audio(Path(result["output"]), RATE, 2)
    sound = _shifted(sound, fits["L0002"], 0.3)
    sound = _silenced(sound, fits["L0004"])
    sound = _stretched(sound, fits["L0005"], 1.6, work)
    audio.write_wav(work / "broken.wav", sound, RATE)
    broken = media.mux(Path(result["output"]), work / "broken.wav", work / "broken.mp4", "spa", len(sound) / RATE)
    args = ("qa", episode, broken, "--script", result["script"], "--fits", work / "summary.json")
    found = summary(dubkit(*args, "-o", work / "review", "--samples", "1", "--json", cache=work / "cache"))
    flagged = {line["id"]: line["flags"] for line in found["lines"] if line["flags"]}
    assert set(flagged) == {"L0002", "L0004", "L0005"}, flagged
    assert {"sync_offset", "start_shift"} & set(flagged["L0002"])
    assert "silent" in flagged["L0004"]
    assert "duration" in flagged["L0005"]
    assert (work / "review" / "report.html").is_file() and (work / "review" / "report.json").is_file()


def _span(fit: dict) -> slice:
    return slice(int((fit["start_ms"] - 50) * RATE / 1000), int((fit["end_ms"] + 100) * RATE / 1000))


def _shifted(sound: np.ndarray, fit: dict, seconds: float) -> np.ndarray:
    out, span = sound.copy(), _span(fit)
    line = sound[span].copy()
    out[span] = 0.0
    start = span.start + int(seconds * RATE)
    out[start : start + len(line)] = line[: len(out) - start]
    return out


def _silenced(sound: np.ndarray, fit: dict) -> np.ndarray:
    out = sound.copy()
    out[_span(fit)] = 0.0
    return out


def _stretched(sound: np.ndarray, fit: dict, factor: float, work: Path) -> np.ndarray:
    from dubkit import audio, media

    out, span = sound.copy(), _span(fit)
    audio.write_wav(work / "line.wav", sound[span], RATE)
    longer, _ = audio.read_wav(media.time_stretch(work / "line.wav", work / "longer.wav", 1 / factor))
    out[span] = 0.0
    end = min(len(out), span.start + len(longer))
    out[span.start : end] = longer[: end - span.start]
    return out


@pytest.mark.slow
def test_side_by_side_review_video_on_request(grid_dub):
    from dubkit import media

    work, episode, result = grid_dub
    args = ("qa", episode, result["output"], "--script", result["script"], "--samples", "2", "--side-by-side")
    done = dubkit(*args, "-o", work / "sbs", cache=work / "cache")
    assert done.returncode == 0, done.stderr
    found = json.loads((work / "sbs" / "report.json").read_text())
    assert found["samples"]["side_by_side"] == "samples/side_by_side.mp4" and len(found["samples"]["clips"]) == 2
    full, source = media.probe(work / "sbs" / "samples" / "side_by_side.mp4"), media.probe(episode)
    assert full.has_audio and abs(full.duration_s - source.duration_s) < 0.2
    assert full.width > 2 * source.width and full.height > source.height  # two pictures, a caption band under
    assert 'href="samples/side_by_side.mp4"' in (work / "sbs" / "report.html").read_text()


def test_a_missing_dub_is_one_clear_line(tmp_path, shared_media):
    clip = shared_media / "video" / "grid" / "bbaf2n.mpg"
    script = tmp_path / "s.json"
    script.write_text(_script(("A", 0, 1000, "hola")).to_json())
    done = dubkit("qa", clip, tmp_path / "nope.mp4", "--script", script, "-o", tmp_path / "r", cache=tmp_path / "c")
    assert done.returncode == 4 and done.stderr.count("\n") == 1 and "nope.mp4" in done.stderr
    assert not (tmp_path / "r").exists()


@pytest.mark.slow
def test_frames_without_a_face_come_through_bit_identical(grid_dub):
    """The leading black has no face and a group of pictures of its own: its packets are copied, so its decoded
    frames equal the source's exactly (the trailing black is re-encoded with the last sentence's group)."""
    from dubkit import media

    _, episode, result = grid_dub
    source = media.video_span(episode, 0.0, 2.5)
    dubbed = media.video_span(Path(result["output"]), 0.0, 2.5)
    pairs = list(zip(source, dubbed, strict=True))
    assert len(pairs) >= 50 and all(np.array_equal(a.rgb, b.rgb) for a, b in pairs)
