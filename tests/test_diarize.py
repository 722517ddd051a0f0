"""Diarization with the real speaker encoder (Resemblyzer) and the series cast, end to end on real recordings."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

from dubkit import media
from dubkit.audio import write_wav
from dubkit.errors import StageFailed
from dubkit.script import Script, Segment
from tests.clitools import dubkit, summary

pytestmark = pytest.mark.slow
RATE = 16000
TURNS = Path("video/hard_cases/grid_2speakers_side_by_side_turns.mp4")  # left face speaks 0-3 s, right 3-6 s


@pytest.fixture(scope="module")
def encoder():
    from dubkit.backends.diarize_resemblyzer import ResemblyzerEncoder

    return ResemblyzerEncoder()


def test_encoder_tells_voices_apart(encoder, shared_media):
    lj = [media.decode_audio(p, RATE, 1) for p in sorted((shared_media / "audio/ljspeech").glob("*.flac"))[:3]]
    turns = media.decode_audio(shared_media / TURNS, RATE, 1)
    same = [float(encoder.embed(a) @ encoder.embed(b)) for a, b in ((lj[0], lj[1]), (lj[1], lj[2]))]
    different = float(encoder.embed(turns[: 3 * RATE]) @ encoder.embed(turns[3 * RATE :]))
    assert min(same) > 0.75 and different < 0.6, (same, different)
    vector = encoder.embed(lj[0])
    assert vector.shape == (256,) and np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-4)
    assert encoder.embed(np.zeros(2 * RATE, np.float32)) is None  # no voice to tell
    assert encoder.embed(turns[int(2.2 * RATE) : int(3.0 * RATE)]) is None  # a pause and a breath
    fingerprint = encoder.fingerprint()
    assert fingerprint["library"].startswith("resemblyzer 0.1.4") and "resemblyzer==0.1.4:" in fingerprint["weights"]


def test_the_model_lives_in_a_child_process(shared_media):
    """torch stays out of the dubbing process (once imported it stays mapped through every later stage); the
    child's death is a one-line StageFailed, and a fresh encoder gives the same vector."""
    code = (
        "import sys; from dubkit import media; from dubkit.backends.diarize_resemblyzer import ResemblyzerEncoder; "
        f"e = ResemblyzerEncoder(); v = e.embed(media.decode_audio(sys.argv[1], {RATE}, 1)[: 3 * {RATE}]); "
        "e.close(); print(v.shape, 'torch' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code, shared_media / TURNS], capture_output=True, text=True)
    assert done.stdout.strip() == "(256,) False", done.stderr

    from dubkit.backends.diarize_resemblyzer import ResemblyzerEncoder

    speech = media.decode_audio(shared_media / TURNS, RATE, 1)[: 3 * RATE]
    encoder = ResemblyzerEncoder()
    first = encoder.embed(speech)
    encoder._worker._process.kill()
    with pytest.raises(StageFailed, match=r"encoder process ended unexpectedly \(exit code -9\)"):
        encoder.embed(speech)
    encoder.close()
    again = ResemblyzerEncoder()
    assert np.array_equal(again.embed(speech), first)
    again.close()


def test_diarize_two_speakers_taking_turns(encoder, shared_media, tmp_path):
    from dubkit.stages import transcribe

    speech = tmp_path / "speech.wav"
    write_wav(speech, media.decode_audio(shared_media / TURNS, RATE, 1), RATE)
    lines = tuple(Segment(f"L{i}", start, end, "x") for i, (start, end) in enumerate([(0, 3000), (3000, 6000)]))
    labelled, prints = transcribe.diarize(lines, speech, encoder, 0.65)
    assert [s.speaker for s in labelled] == ["S1", "S2"]
    assert (prints["S1"].gender, prints["S2"].gender) == ("male", "female")


def dub(media_path: Path, work: Path, *extra: object) -> dict:
    args = ("translate", media_path, "--to", "es", "--from", "en", "--no-qa", "--no-lipsync", "--json")
    return summary(dubkit(*args, "-o", work / "out", *extra, cache=work / "cache"))


def script_of(result: dict) -> Script:
    return Script.load(Path(result["script"]))


def test_two_speakers_in_a_video_get_two_voices(shared_media, tmp_path):
    cast_file = tmp_path / "grid.cast.toml"
    result = dub(shared_media / TURNS, tmp_path, "--cast-file", cast_file)
    script = script_of(result)
    assert result["stages"]["transcribe"]["counts"]["speakers"] == 2
    left = {s.speaker for s in script.segments if s.end_ms <= 3200}
    right = {s.speaker for s in script.segments if s.start_ms >= 2800}
    assert left == {"S1"} and right == {"S2"}, [(s.start_ms, s.end_ms, s.speaker) for s in script.segments]
    assert result["cast"] == {"S1": "es-male-1", "S2": "es-female-1"}  # the left speaker is a man, the right a woman
    assert tomllib.loads(cast_file.read_text()) == {"es": result["cast"]}
    prints = json.loads(cast_file.with_name("grid.cast.voiceprints.json").read_text())["speakers"]
    assert sorted(prints) == ["S1", "S2"] and len(prints["S1"]["embedding"]) == 256


def conversation(shared_media: Path, out: Path, parts: list[str]) -> Path:
    """An audio episode: the recordings one after another, 1.5 s of silence between them."""
    gap = np.zeros(int(1.5 * RATE), np.float32)
    pieces = [gap]
    for part in parts:
        pieces += [media.decode_audio(shared_media / part, RATE, 1), gap]
    write_wav(out, np.concatenate(pieces), RATE)
    return out


WOMAN = ["audio/ljspeech/LJ001-0001.flac", "audio/ljspeech/LJ001-0002.flac", "audio/ljspeech/LJ001-0003.flac"]
MAN = ["audio/fleurs/fleurs-en-001.ogg", "audio/fleurs/fleurs-en-008.ogg", "audio/fleurs/fleurs-en-005.ogg"]


def voice_by_part(script: Script, shared_media: Path, parts: list[str]) -> list[set[str]]:
    """The voices of the lines spoken within each part of a `conversation`."""
    found, start = [], 1.5
    for part in parts:
        length = len(media.decode_audio(shared_media / part, RATE, 1)) / RATE
        inside = [
            s for s in script.segments if start * 1000 - 300 <= s.start_ms and s.end_ms <= (start + length) * 1000 + 300
        ]
        found.append({s.voice for s in inside})
        start += length + 1.5
    return found


def test_a_cast_file_keeps_each_characters_voice_across_episodes(shared_media, tmp_path):
    cast_file = tmp_path / "series.toml"
    first_parts = [WOMAN[0], MAN[0], WOMAN[1], MAN[1]]
    first = dub(conversation(shared_media, tmp_path / "ep1.wav", first_parts), tmp_path, "--cast-file", cast_file)
    assert first["stages"]["transcribe"]["counts"]["speakers"] == 2
    assert first["cast"] == {"S1": "es-female-1", "S2": "es-male-1"}
    assert voice_by_part(script_of(first), shared_media, first_parts) == [{"es-female-1"}, {"es-male-1"}] * 2

    second_parts = [MAN[2], WOMAN[2]]  # new sentences; the man speaks first this time
    second = dub(conversation(shared_media, tmp_path / "ep2.wav", second_parts), tmp_path, "--cast-file", cast_file)
    script = script_of(second)
    assert second["cast"] == {"S2": "es-male-1", "S1": "es-female-1"}  # recognised by voice: the series' labels
    assert voice_by_part(script, shared_media, second_parts) == [{"es-male-1"}, {"es-female-1"}]
    assert tomllib.loads(cast_file.read_text()) == {"es": {"S1": "es-female-1", "S2": "es-male-1"}}


def test_one_speaker_stays_one(shared_media, tmp_path):
    clip = shared_media / "video/talking_heads/face_4.mp4"
    args = ("translate", clip, "--to", "es", "--from", "en", "--until", "transcribe", "--json", "-o", tmp_path / "out")
    result = summary(dubkit(*args, cache=tmp_path / "cache"))
    assert result["stages"]["transcribe"]["counts"]["speakers"] == 1


def test_three_speakers_with_hard_cuts_get_three_voices(shared_media, tmp_path):
    clip = shared_media / "video/hard_cases/grid_3speakers_hard_cuts.mp4"  # a speaker per 3 s shot
    result = dub(clip, tmp_path)
    script = script_of(result)
    by_shot = [
        {s.speaker for s in script.segments if shot * 3000 - 200 <= s.start_ms < shot * 3000 + 2800}
        for shot in range(3)
    ]
    assert by_shot == [{"S1"}, {"S2"}, {"S3"}], [(s.start_ms, s.end_ms, s.speaker) for s in script.segments]
    assert len(set(result["cast"].values())) == 3
    assert result["cast"]["S1"] == "es-male-1" and result["cast"]["S2"] == "es-female-1"  # a man, then a woman
