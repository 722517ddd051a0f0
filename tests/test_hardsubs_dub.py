"""Burned-in subtitles through the whole dub, as a user runs it: `dubkit translate EP --to es --hardsubs ...` on the
demo sample (samples/make_sample.py: real Mandarin speech, its two Chinese cues burned in), then the delivered MP4
read back with OCR (`ocr/rapidocr`) in the band, every 5th frame: no Chinese left where the originals were, the
Spanish set where the SRT shows it, the script's source text the burned text; `keep` and `erase` as they say. And a
clip whose Chinese subtitles translate its (Russian) speech: the script is the speech's, the Chinese erased.

Slow: each dub runs Whisper, the translation models, the voices and the lip-sync engine (the modes share a cache).
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from dubkit import media
from tests.clitools import dubkit, summary
from tests.hardsub_clips import (
    FOOTAGE,
    HEIGHT,
    band_readings,
    burn_clip,
    chinese,
    demo_builder,
    latin_letters,
    letters,
    sampled,
    shown,
    srt_cues,
    with_sound,
)

pytestmark = pytest.mark.slow

MAX_LATIN_CER = 0.35  # the Spanish read back against the SRT (PP-OCR drops accents and spaces, misreads "É")
MAX_SOURCE_CER = 0.02  # the script's source text against the burned text, letters only


@dataclass(frozen=True)
class Dub:
    """A finished dub: the delivered MP4, its SRT and script, and the `--json` summary."""

    video: Path
    srt: Path
    script: Path
    summary: dict


def dub(source: Path, out: Path, cache: Path, *options: str) -> Dub:
    done = summary(dubkit("translate", source, "--to", "es", "-o", out, "--json", *options, cache=cache))
    return Dub(Path(done["output"]), Path(done["subtitles"]), Path(done["script"]), done)


def cer(truth: str, read: str) -> float:
    import jiwer

    return float(jiwer.cer(truth, read)) if truth else float(bool(read))


@pytest.fixture(scope="module")
def reader():
    pytest.importorskip("rapidocr_onnxruntime", reason="the ocr extra (rapidocr_onnxruntime) reads the picture")
    pytest.importorskip("jiwer", reason="the qa extra (jiwer) scores the character error")
    from dubkit.backends import registry

    return registry.create("ocr", "rapidocr", {})


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo sample: (builder module, the episode, its original cues as (start s, end s, text), the band's
    rows (the originals' rows grown by two lines' height: where a replacement may be set), a frame without text)."""
    builder = demo_builder()
    work = tmp_path_factory.mktemp("demo")
    episode = work / "demo.mp4"
    script = Path(builder.__file__)
    subprocess.run([sys.executable, str(script), str(episode)], check=True, capture_output=True, timeout=300)
    cues = [(a, b, text) for (a, b), text in zip(builder.cue_times(builder.dialogue()), builder.CUES, strict=True)]
    centre = builder.TEXT_Y * builder.SIZE[1]
    rows = (int(centre - 2.5 * builder.FONT_PX), int(centre + 2.5 * builder.FONT_PX))
    plain = next(media.video_frames(episode, only={0})).rgb  # before the first cue
    return builder, episode, cues, rows, plain


@pytest.fixture(scope="module")
def replaced(demo, tmp_path_factory):
    work = tmp_path_factory.mktemp("dubs")
    return dub(demo[1], work / "replace", work / "cache", "--hardsubs", "replace")


def test_replace_leaves_no_chinese_and_sets_the_spanish_where_the_srt_shows_it(demo, replaced, reader):
    _, _, cues, rows, plain = demo
    spanish = srt_cues(replaced.srt)
    fps = media.probe(replaced.video).fps
    frames = sampled([(a, b) for a, b, _ in cues], fps) | sampled([(a, b) for a, b, _ in spanish], fps)
    read = band_readings(replaced.video, rows, reader, frames, lambda _: plain)
    burned = set(letters("".join(text for _, _, text in cues)))
    judged = 0
    for index, (time_s, text) in sorted(read.items()):
        assert not set(text) & burned, f"frame {index} ({time_s:.2f} s): the original is still read: {text!r}"
        expected = shown(spanish, time_s)
        if expected is None:  # erased, nothing set: no Chinese at all (where Latin is set, PP-OCR may read É as 白)
            assert not chinese(text), f"frame {index} ({time_s:.2f} s): Chinese read where no cue is shown: {text!r}"
        elif expected:
            judged += 1
            error = cer(latin_letters(expected), latin_letters(text))
            assert error <= MAX_LATIN_CER, f"frame {index} ({time_s:.2f} s): read {text!r} for {expected!r}"
    assert judged >= len(spanish) * 3  # every Spanish cue was read back on several frames


def test_the_script_source_is_the_burned_text_and_a_second_run_is_all_cached(demo, replaced):
    builder, episode = demo[0], demo[1]
    segments = json.loads(replaced.script.read_text(encoding="utf-8"))["segments"]
    source = "".join(segment["text"] for segment in segments)
    assert cer(letters("".join(builder.CUES)), letters(source)) <= MAX_SOURCE_CER, source
    cache = replaced.video.parents[1] / "cache"
    again = dub(episode, replaced.video.parents[1] / "again", cache, "--hardsubs", "replace")
    stages = again.summary["stages"]
    assert all(stage["cached"] for stage in stages.values() if not stage["skipped"]), stages
    assert again.video.read_bytes() == replaced.video.read_bytes()


def test_keep_leaves_the_chinese_and_erase_leaves_no_text_in_the_band(demo, replaced, reader):
    _, episode, cues, rows, plain = demo
    cache, work = replaced.video.parents[1] / "cache", replaced.video.parents[1]
    frames = sampled([(a, b) for a, b, _ in cues], media.probe(episode).fps)
    kept = dub(episode, work / "keep", cache, "--hardsubs", "keep", "--no-qa")
    for index, (time_s, text) in band_readings(kept.video, rows, reader, frames, lambda _: plain).items():
        expected = shown(cues, time_s)
        assert expected and cer(expected, chinese(text)) <= 0.2, f"frame {index}: read {text!r} for {expected!r}"
    erased = dub(episode, work / "erase", cache, "--hardsubs", "erase", "--no-qa")
    counts = erased.summary["stages"]["lipsync"]["counts"]
    assert counts["subtitles_erased"] == 1 and counts["subtitles_replaced"] == 0
    read = band_readings(erased.video, rows, reader, frames, lambda _: plain)
    assert not any(text for _, text in read.values()), read


def test_subtitles_translating_the_speech_are_erased_and_the_script_is_the_speech(tmp_path, reader):
    """FLORES Chinese over the portrait footage, whose speech is Russian: a user dubs it as it is (`--to es`, the
    language detected); the subtitles are no transcript of the speech, so the script keeps what is heard."""
    fps, seconds = media.probe(FOOTAGE).fps, 4.4
    frames = [frame.rgb for frame in media.video_frames(FOOTAGE, HEIGHT) if frame.index < seconds * fps]
    footage = media.write_video(frames, tmp_path / "footage.mp4", fps)
    clip = with_sound(burn_clip(tmp_path / "silent.mp4", 34, 0.86, footage=(footage, HEIGHT)), tmp_path / "ep.mp4")
    done = dub(clip.path, tmp_path / "out", tmp_path / "cache", "--hardsubs", "erase", "--no-lipsync", "--no-qa")
    segments = json.loads(done.script.read_text(encoding="utf-8"))["segments"]
    assert segments and not chinese("".join(s["text"] for s in segments)), segments
    grow = 2 * (clip.rows[1] - clip.rows[0])
    rows = (clip.rows[0] - grow, min(HEIGHT, clip.rows[1] + grow))
    spans = [(first / clip.fps, end / clip.fps) for first, end, _ in clip.cues]
    read = band_readings(done.video, rows, reader, sampled(spans, clip.fps), lambda index: frames[index])
    assert read and not any(chinese(text) for _, text in read.values()), read
