"""`dubkit translate` end to end on a real clip, with the real embedded models."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.clitools import cache_is_whole, dubkit, summary

pytestmark = pytest.mark.slow
# The speaker is cast by pitch (a man: es-male-1); the lip-sync margins below were measured with this voice.
VOICE = ("--cast", "S1=es-female-1")


@pytest.fixture(scope="module")
def first_run(tmp_path_factory, shared_media):
    clip = shared_media / "video" / "talking_heads" / "face_1.mp4"
    work = tmp_path_factory.mktemp("dub")
    done = dubkit(
        "translate", clip, "--to", "es", "--from", "en", "-o", work / "out", "--json", *VOICE, cache=work / "cache"
    )
    return clip, work, summary(done)


def test_outputs_are_written(first_run):
    clip, work, result = first_run
    assert result["output"] == str(work / "out" / "face_1.es.mp4")
    assert result["subtitles"] == str(work / "out" / "face_1.es.srt")
    assert result["script"] == str(work / "out" / "face_1.es.script.json")
    assert all(not stage["cached"] for stage in result["stages"].values())
    stages = {"ingest", "hardsubs", "transcribe", "translate", "synthesize", "lipsync", "render", "qa"}
    assert set(result["stages"]) == stages
    lines = result["lines"]
    assert lines["total"] >= 1 and lines["synthesized"] == lines["total"] and lines["cached"] == 0


def test_without_lipsync_the_video_is_untouched_and_the_audio_tagged(first_run):
    import av

    from dubkit import media

    clip, work, _ = first_run
    args = ("translate", clip, "--to", "es", "--from", "en", "--no-lipsync", "-o", work / "plain", "--json", *VOICE)
    result = summary(dubkit(*args, cache=work / "cache"))
    assert result["stages"]["synthesize"]["cached"] and not result["stages"]["render"]["cached"]
    source, dubbed = media.probe(clip), media.probe(Path(result["output"]))
    assert abs(dubbed.duration_s - source.duration_s) <= 1.0 / source.fps
    with av.open(str(clip)) as a, av.open(result["output"]) as b:
        original = [bytes(p) for p in a.demux(a.streams.video[0]) if p.size]
        copied = [bytes(p) for p in b.demux(b.streams.video[0]) if p.size]
        assert original == copied
        assert b.streams.audio[0].language == "spa"


def test_lip_sync_follows_the_dub(first_run):
    """The speaking mouth follows the dubbed speech clearly better than the untouched picture does."""
    from dubkit import media
    from dubkit.lipsync.faces import mouth_track
    from dubkit.lipsync.sync import estimate

    clip, _, result = first_run
    output = Path(result["output"])
    source, dubbed = media.probe(clip), media.probe(output)
    assert abs(dubbed.duration_s - source.duration_s) <= 1.0 / source.fps
    dub = media.decode_audio(output, 16000, 1).reshape(-1)
    before, after = estimate(mouth_track(clip), dub, 16000), estimate(mouth_track(output), dub, 16000)
    assert before is not None and after is not None
    assert after.confidence > before.confidence + 0.3 and abs(after.offset_frames) <= 1, (before, after)


def test_the_dubbed_picture_keeps_its_place_against_the_sound(first_run):
    """face_1's picture starts 33 ms after its sound (an edit list). The lip-synced picture, muxed on its own, lost
    that start and showed a frame early (the sync measure read +1 frame against the dub)."""
    from dubkit import media

    clip, work, result = first_run
    source = [frame.time_s for _, frame in zip(range(4), media.video_frames(clip, max_height=32), strict=False)]
    assert source[0] == pytest.approx(0.033, abs=1e-3)
    for output in (Path(result["output"]), work / "out" / "face_1.es.mkv"):
        frames = media.video_frames(output, max_height=32)
        assert [frame.time_s for _, frame in zip(range(4), frames, strict=False)] == pytest.approx(source, abs=1e-3)


def test_the_review_report_lists_every_line_with_its_figures(first_run):
    import jsonschema

    from dubkit.qa import report

    _, _, result = first_run
    folder = Path(result["report"]).parent
    found = json.loads((folder / "report.json").read_text())
    jsonschema.validate(found, json.loads(Path(report.__file__).with_name("report.schema.json").read_text()))
    script = json.loads(Path(result["script"]).read_text())
    assert [line["id"] for line in found["lines"]] == [s["id"] for s in script["segments"]]
    fits = {fit["id"]: fit for fit in result["fits"]}
    for line in found["lines"]:
        assert line["dubbed"] and line["asr"]["text"] and line["sync"]["after"], line
        assert (line["stretch"], line["overflow_ms"]) == (fits[line["id"]]["stretch"], fits[line["id"]]["overflow_ms"])
    assert found["episode"]["loudness"]["ok"] and found["episode"]["duration"]["ok"]
    assert "<table" in (folder / "report.html").read_text()


def test_lines_start_on_time_and_stretch_is_bounded(first_run):
    _, _, result = first_run
    script = {s["id"]: s for s in json.loads(Path(result["script"]).read_text())["segments"]}
    for fit in result["fits"]:
        assert abs(fit["start_ms"] - script[fit["id"]]["start_ms"]) <= 150
        assert 1.0 <= fit["stretch"] <= 1.25
        assert 1.0 <= fit["speed"] <= 1.15
    assert result["lines"]["overflow"] == sum(f["overflow_ms"] > 0 for f in result["fits"])
    assert result["lines"]["cut"] == sum(f["cut_ms"] > 0 for f in result["fits"])


def test_script_and_subtitles_hold_the_translation(first_run):
    import pysubs2

    _, _, result = first_run
    script = json.loads(Path(result["script"]).read_text())
    assert script["source_language"] == "en" and script["target_language"] == "es"
    assert all(s["translation"] and s["voice"] for s in script["segments"])
    cues = pysubs2.load(result["subtitles"])  # lines broken and split into cues by the subtitle rules
    assert (
        " ".join(c.plaintext.replace("\n", " ") for c in cues).split()
        == " ".join(s["translation"] for s in script["segments"]).split()
    )


def test_unchanged_rerun_is_all_cached(first_run):
    clip, work, _ = first_run
    again = summary(
        dubkit(
            "translate", clip, "--to", "es", "--from", "en", "-o", work / "out2", "--json", *VOICE, cache=work / "cache"
        )
    )
    assert all(stage["cached"] for stage in again["stages"].values())
    assert again["lines"]["synthesized"] == 0
    assert Path(again["output"]).read_bytes() == (work / "out" / "face_1.es.mp4").read_bytes()


def test_editing_one_line_resynthesizes_exactly_that_line(first_run):
    clip, work, _ = first_run
    stop = summary(
        dubkit(
            "translate",
            clip,
            "--to",
            "es",
            "--from",
            "en",
            "-o",
            work / "edit",
            "--until",
            "translate",
            "--json",
            cache=work / "cache",
        )
    )
    assert set(stop["stages"]) == {"ingest", "hardsubs", "transcribe", "translate"} and stop["output"] is None
    script = json.loads(Path(stop["script"]).read_text())
    script["segments"][0]["translation"] = "Esta es una frase nueva, corregida por el equipo."
    edited = work / "edited.json"
    edited.write_text(json.dumps(script, ensure_ascii=False))
    rendered_before = set((work / "cache" / "lipsync-span").glob("*/*"))
    redo = summary(
        dubkit(
            "translate",
            clip,
            "--to",
            "es",
            "--script",
            edited,
            "-o",
            work / "edit",
            "--json",
            *VOICE,
            cache=work / "cache",
        )
    )
    assert redo["lines"]["synthesized"] == 1
    assert redo["stages"]["ingest"]["cached"]
    assert not redo["stages"]["synthesize"]["cached"]
    assert cache_is_whole(work / "cache")
    spans = redo["stages"]["lipsync"]["counts"]
    rendered = set((work / "cache" / "lipsync-span").glob("*/*")) - rendered_before
    assert 1 <= spans["spans_rendered"] == len(rendered) <= spans["spans"]
    redone = [json.loads((entry / "meta.json").read_text())["preimage"]["inputs"]["span"] for entry in rendered]
    _only_frames_in(redone, differ_between=(work / "out" / "face_1.es.mp4", Path(redo["output"])))


def _only_frames_in(spans: list[list[int]], differ_between: tuple[Path, Path]) -> None:
    """The two videos differ only in frames inside *spans* (frame ranges), and somewhere there."""
    from dubkit import media

    first, second = (media.video_frames(path) for path in differ_between)
    differing = {a.index for a, b in zip(first, second, strict=True) if not np.array_equal(a.rgb, b.rgb)}
    assert differing and all(any(start <= i < end for start, end in spans) for i in differing), (differing, spans)


def test_backends_and_cache_info(first_run):
    _, work, _ = first_run
    rows = json.loads(dubkit("backends", "--json", cache=work / "cache").stdout)
    usable = {(r["kind"], r["name"]) for r in rows if r["usable"]}
    assert {("asr", "faster-whisper"), ("mt", "apertium"), ("tts", "kokoro")} <= usable
    info = json.loads(dubkit("cache", "info", "--json", cache=work / "cache").stdout)
    assert info["stages"]["tts"]["entries"] >= 1


def test_an_mpeg_ts_whose_clock_starts_late_is_dubbed_in_sync(tmp_path, shared_media):
    """A broadcast MPEG-TS starts its clock at 1.4 s. Frames were timed from that clock and the sound from the
    file's start, so the lips were re-animated to the speech 1.4 s away; every time now counts from the start."""
    from dubkit import media
    from dubkit.lipsync.faces import mouth_track
    from dubkit.lipsync.sync import estimate
    from tests.media_fixtures import remuxed

    clip = remuxed(shared_media / "video" / "talking_heads" / "face_4.mp4", tmp_path / "face_4.ts", "mpegts")
    args = ("translate", clip, "--to", "es", "--from", "en", "-o", tmp_path / "out", "--json", *VOICE)
    result = summary(dubkit(*args, cache=tmp_path / "cache"))
    assert not result["stages"]["lipsync"]["skipped"]
    output = Path(result["output"])
    dub = media.decode_audio(output, 16000, 1).reshape(-1)
    before, after = estimate(mouth_track(clip), dub, 16000), estimate(mouth_track(output), dub, 16000)
    assert before is not None and after is not None
    assert after.confidence > before.confidence + 0.3 and abs(after.offset_frames) <= 1, (before, after)
