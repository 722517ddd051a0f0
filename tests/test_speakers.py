"""Speakers and voices: clustering, the series cast file, cross-episode matching, automatic casting, pitch."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import numpy as np
import pytest

from dubkit.audio import write_wav
from dubkit.cache import Cache
from dubkit.casting import cast, speakers
from dubkit.casting.speakers import Voiceprint
from dubkit.casting.voices import auto_cast, load_voices
from dubkit.config import Preset, SynthesizeConfig, TranscribeConfig
from dubkit.errors import ConfigError
from dubkit.job import Artefact, Episode, Job
from dubkit.script import Script, Segment, Transcript
from dubkit.stages import synthesize, transcribe
from dubkit.stages.base import Backends, Context

RATE = 16000


def voices_of(n: int, dim: int = 256, seed: int = 0) -> np.ndarray:
    """n speaker directions in the positive orthant (like Resemblyzer's embeddings), about 0.5-0.7 alike."""
    rng = np.random.default_rng(seed)
    base = rng.random((n, dim)) ** 3
    return base / np.linalg.norm(base, axis=1, keepdims=True)


def lines_of(voice: np.ndarray, count: int, rng: np.random.Generator, noise: float = 0.035) -> list[np.ndarray]:
    """Line embeddings of one voice: ~0.8-0.9 alike, as Resemblyzer's are for one speaker's lines."""
    found = []
    for _ in range(count):
        vector = np.clip(voice + rng.normal(0.0, noise, voice.shape), 0.0, None)
        found.append(vector / np.linalg.norm(vector))
    return found


def print_of(vector: np.ndarray, f0: float | None = None) -> Voiceprint:
    return Voiceprint(tuple(float(x) for x in vector), f0, 10.0)


def test_synthetic_voices_look_like_real_ones():
    rng = np.random.default_rng(1)
    a, b = voices_of(2)
    same = lines_of(a, 6, rng)
    within = [float(x @ y) for i, x in enumerate(same) for y in same[i + 1 :]]
    assert min(within) > 0.75 and max(within) < 0.97
    assert 0.4 < float(a @ b) < 0.75


def test_two_speakers_taking_turns_are_two_clusters_in_order_of_appearance():
    rng = np.random.default_rng(2)
    a, b = voices_of(2, seed=3)
    order = [1, 1, 0, 1, 0, 0, 1]  # speaker b talks first: it is cluster 0
    lines = [lines_of((a, b)[who], 1, rng)[0] for who in order]
    assert speakers.cluster(np.stack(lines), 0.65) == [0, 0, 1, 0, 1, 1, 0]


def test_one_speaker_and_edge_cases():
    rng = np.random.default_rng(4)
    (a,) = voices_of(1)
    assert speakers.cluster(np.stack(lines_of(a, 8, rng)), 0.65) == [0] * 8
    assert speakers.cluster(np.zeros((0, 256)), 0.65) == []
    assert speakers.cluster(np.stack(lines_of(a, 1, rng)), 0.65) == [0]


def test_three_speakers_many_lines():
    rng = np.random.default_rng(5)
    voices = voices_of(3, seed=6)
    truth = rng.integers(0, 3, 40)
    truth[:3] = [2, 0, 1]
    found = speakers.cluster(np.stack([lines_of(voices[t], 1, rng)[0] for t in truth]), 0.65)
    relabel = {2: 0, 0: 1, 1: 2}  # first appearance order
    assert found == [relabel[t] for t in truth]


def test_short_lines_take_the_nearest_embedded_lines_speaker():
    rng = np.random.default_rng(7)
    a, b = voices_of(2, seed=8)
    spans = [(0, 3000), (3100, 3500), (4000, 7000), (7100, 7600), (9000, 12000)]
    embedded = {0: lines_of(a, 1, rng)[0], 2: lines_of(b, 1, rng)[0], 4: lines_of(a, 1, rng)[0]}
    assert speakers.line_speakers(spans, embedded, 0.65) == ["S1", "S1", "S2", "S2", "S1"]
    assert speakers.line_speakers(spans, {}, 0.65) == ["S1"] * 5  # nothing long enough: one speaker
    touching = [(0, 10000), (10000, 10500), (11500, 13000)]  # the short line touches the long one before it
    assert speakers.line_speakers(touching, {0: embedded[0], 2: embedded[2]}, 0.65) == ["S1", "S1", "S2"]


def test_voiceprints_are_mean_embeddings_with_seconds():
    rng = np.random.default_rng(9)
    (a,) = voices_of(1)
    vectors = lines_of(a, 3, rng)
    prints = speakers.voiceprints(["S1", "S1", "S1"], dict(enumerate(vectors)), [1.0, 2.0, 3.5])
    assert prints["S1"].seconds == 6.5
    assert np.linalg.norm(prints["S1"].vector()) == pytest.approx(1.0)
    assert float(prints["S1"].vector() @ a) > max(float(v @ a) for v in vectors) - 0.01


def test_matching_recognises_known_speakers_across_episodes():
    rng = np.random.default_rng(10)
    a, b, c = voices_of(3, seed=11)
    known = {"S1": print_of(lines_of(a, 1, rng)[0]), "S2": print_of(lines_of(b, 1, rng)[0])}
    # the next episode: b speaks first (episode S1), then a newcomer c, then a
    episode = {"S1": print_of(lines_of(b, 1, rng)[0]), "S2": print_of(lines_of(c, 1, rng)[0])}
    episode["S3"] = print_of(lines_of(a, 1, rng)[0])
    assert speakers.match(episode, known, 0.75) == {"S1": "S2", "S2": "S3", "S3": "S1"}
    assert speakers.match(episode, {}, 0.75) == {"S1": "S1", "S2": "S2", "S3": "S3"}


def test_matching_is_one_to_one():
    rng = np.random.default_rng(12)
    (a,) = voices_of(1)
    known = {"S1": print_of(a)}
    episode = {"S1": print_of(lines_of(a, 1, rng)[0]), "S2": print_of(lines_of(a, 1, rng, 0.05)[0])}
    mapping = speakers.match(episode, known, 0.75)
    assert sorted(mapping.values()) == ["S1", "S2"]


def harmonic(f0: float, seconds: float = 1.5) -> np.ndarray:
    t = np.arange(int(RATE * seconds)) / RATE
    wave = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 8))
    return (0.3 * wave * (1 + 0.3 * np.sin(2 * np.pi * 3 * t))).astype(np.float32)


@pytest.mark.parametrize(("f0", "gender"), [(105.0, "male"), (130.0, "male"), (210.0, "female"), (240.0, "female")])
def test_median_f0_of_a_harmonic_voice(f0, gender):
    found = speakers.median_f0(harmonic(f0), RATE)
    assert found == pytest.approx(f0, rel=0.03)
    assert speakers.gender_of(found) == gender


def test_no_pitch_in_silence_or_noise():
    assert speakers.median_f0(np.zeros(RATE, np.float32), RATE) is None
    noise = np.random.default_rng(0).normal(0, 0.1, RATE).astype(np.float32)
    assert speakers.median_f0(noise, RATE) is None
    assert speakers.gender_of(None) == ""


def test_median_f0_of_real_voices(shared_media):
    from dubkit import media

    female = media.decode_audio(shared_media / "audio/ljspeech/LJ001-0001.flac", RATE, 1)
    assert speakers.gender_of(speakers.median_f0(female, RATE)) == "female"
    two = media.decode_audio(shared_media / "video/hard_cases/grid_2speakers_side_by_side_turns.mp4", RATE, 1)
    assert speakers.gender_of(speakers.median_f0(two[: 3 * RATE], RATE)) == "male"  # the left speaker
    assert speakers.gender_of(speakers.median_f0(two[3 * RATE :], RATE)) == "female"  # the right one


# --- the cast file ---------------------------------------------------------------------------------------------


def test_cast_file_round_trip(tmp_path):
    path = tmp_path / "show.cast.toml"
    empty = cast.load(path)
    assert empty.voices == {} and empty.prints == {}
    (a, b) = voices_of(2)
    filled = empty.with_voices("es", {"S1": "es-male-1", "Dr. Who": "es-female-1"})
    filled = filled.with_voices("pt-BR", {"S1": "pt-BR-male-1"})
    filled = filled.with_prints({"S1": print_of(a, 118.0), "Dr. Who": print_of(b, 205.0)}, "resemblyzer==0.1.4:1")
    cast.save(filled)
    data = tomllib.loads(path.read_text())
    assert data == {"es": {"S1": "es-male-1", "Dr. Who": "es-female-1"}, "pt-BR": {"S1": "pt-BR-male-1"}}
    sidecar = json.loads(cast.prints_path(path).read_text())
    assert sidecar["encoder"] == "resemblyzer==0.1.4:1" and sidecar["speakers"]["S1"]["gender"] == "male"
    again = cast.load(path)
    assert again.voices == filled.voices and again.encoder == filled.encoder
    assert again.prints["Dr. Who"].gender == "female"
    assert float(again.prints["S1"].vector() @ a) == pytest.approx(1.0, abs=1e-5)
    assert not list(tmp_path.glob(".*.toml*")), "no temporary file left behind"


def test_cast_file_keeps_listed_speakers_and_finds_the_language(tmp_path):
    path = tmp_path / "cast.toml"
    path.write_text('[es]\nS1 = "es-female-2"\n\n[pt]\nS1 = "pt-BR-male-1"\n')
    series = cast.load(path)
    assert series.for_language("es") == {"S1": "es-female-2"}
    assert series.for_language("pt-BR") == {"S1": "pt-BR-male-1"}  # pt's table serves pt-BR
    assert series.for_language("fr") == {}
    added = series.with_voices("es", {"S1": "es-male-1", "S2": "es-male-1"})
    assert added.for_language("es") == {"S1": "es-female-2", "S2": "es-male-1"}  # a listed speaker keeps its voice


@pytest.mark.parametrize(
    ("text", "cause"),
    [("[es]\nS1 = 3\n", "must be a table"), ("S1 = 'x'\n", "must be a table"), ("[es\n", "cannot read"),
     ("[xx-nope-1]\nS1 = 'x'\n", "xx-nope-1")],
)  # fmt: skip
def test_bad_cast_file_is_a_one_line_config_error(tmp_path, text, cause):
    path = tmp_path / "cast.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=cause) as error:
        cast.load(path)
    assert str(path) in str(error.value) and "\n" not in str(error.value)


def test_bad_voiceprints_file_is_a_config_error(tmp_path):
    path = tmp_path / "cast.toml"
    cast.prints_path(path).write_text('{"speakers": {"S1": {"seconds": 1}}}')
    with pytest.raises(ConfigError, match="voiceprints"):
        cast.load(path)


# --- automatic casting ------------------------------------------------------------------------------------------


def test_auto_cast_gives_distinct_voices_by_gender():
    profiles = load_voices()
    chosen = auto_cast([("S1", "male"), ("S2", "female"), ("S3", "female")], "es", {}, "es-female-1", profiles)
    assert chosen == {"S1": "es-male-1", "S2": "es-female-1", "S3": "es-female-2"}


def test_auto_cast_avoids_voices_already_cast_then_reuses_the_least_used():
    profiles = load_voices()
    taken = {"S1": "es-male-1"}
    chosen = auto_cast([("S2", "male"), ("S3", "female"), ("S4", "male")], "es", taken, "es-female-1", profiles)
    assert chosen["S2"] != "es-male-1" and len(set(chosen.values()) | {"es-male-1"}) == 3  # distinct while they last
    assert chosen["S4"] == "es-male-1"  # then the least used of its gender
    assert auto_cast([("S1", "")], "es", {}, "es-female-1", profiles) == {"S1": "es-female-1"}  # the preset's first
    assert auto_cast([("S1", "male")], "ja", {}, "", profiles) == {}  # no profile of the language


def context(tmp_path: Path, diarize: bool = True) -> Context:
    preset = Preset(
        "test",
        tmp_path / "test.toml",
        transcribe=TranscribeConfig(diarize=diarize),
        synthesize=SynthesizeConfig(voices={"es": "es-female-1"}),
    )
    return Context(Cache(tmp_path / "cache"), preset, Backends())


def diarized_entry(tmp_path: Path, prints: dict[str, Voiceprint], labels: list[str]) -> Artefact:
    entry = tmp_path / "diarized"
    entry.mkdir()
    lines = tuple(Segment(f"L{i}", i * 3000, i * 3000 + 2500, "hi", speaker=s) for i, s in enumerate(labels))
    transcribe.save(entry / "transcript.json", Transcript("en", lines))
    transcribe.save_speakers(entry / "speakers.json", prints, "enc")
    return Artefact("d" * 64, entry, True, {"speakers": len(prints)})


def speech_entry(tmp_path: Path, voices: list[tuple[int, int, float]]) -> Artefact:
    """An ingest entry whose 16 kHz speech track holds a harmonic voice of the given F0 in each span (ms)."""
    entry = tmp_path / "ingest"
    entry.mkdir()
    track = np.zeros(int(RATE * (voices[-1][1] / 1000 + 1)), np.float32)
    for start, end, f0 in voices:
        tone = harmonic(f0, (end - start) / 1000)
        track[int(start * RATE / 1000) : int(start * RATE / 1000) + len(tone)] = tone
    write_wav(entry / "speech.wav", track, RATE)
    return Artefact("i" * 64, entry, True)


def test_second_episode_speakers_are_renamed_to_the_series_and_newcomers_added(tmp_path):
    rng = np.random.default_rng(13)
    a, b, c = voices_of(3, seed=14)
    path = tmp_path / "series.toml"
    cast.save(
        cast.Cast(path, {"es": {"S1": "es-male-1", "S2": "es-female-2"}}, {"S1": print_of(a), "S2": print_of(b)}, "enc")
    )
    episode = {"S1": print_of(lines_of(b, 1, rng)[0]), "S2": print_of(lines_of(c, 1, rng)[0], 120.0)}
    diarized = diarized_entry(tmp_path, episode, ["S1", "S2", "S1"])

    relabelled = transcribe._cast_speakers(path, context(tmp_path), diarized)
    lines = transcribe.load(relabelled.path / "transcript.json").segments
    assert [s.speaker for s in lines] == ["S2", "S3", "S2"]
    assert sorted(transcribe.load_speakers(relabelled.path / "speakers.json")[0]) == ["S2", "S3"]
    series = cast.load(path)
    assert sorted(series.prints) == ["S1", "S2", "S3"] and series.prints["S3"].gender == "male"
    assert transcribe._cast_speakers(path, context(tmp_path), diarized).key == relabelled.key  # stable re-run


def test_first_episode_keeps_its_labels_and_fills_the_cast_file(tmp_path):
    a, b = voices_of(2, seed=15)
    path = tmp_path / "new" / "series.toml"
    diarized = diarized_entry(tmp_path, {"S1": print_of(a, 110.0), "S2": print_of(b, 220.0)}, ["S1", "S2"])
    assert transcribe._cast_speakers(path, context(tmp_path), diarized) == diarized
    script = Script("en", "es", transcribe.load(diarized.path / "transcript.json").segments)
    ingest = speech_entry(tmp_path, [(0, 2500, 110.0), (3000, 5500, 220.0)])  # a man, then a woman
    job = Job(Episode(Path("ep1.mp4"), "es", cast_file=path), {"ingest": ingest, "transcribe": diarized}, script=script)
    by_speaker = synthesize._speaker_voices(script, job, context(tmp_path), load_voices())
    assert by_speaker == {"S1": "es-male-1", "S2": "es-female-1"}
    assert tomllib.loads(path.read_text()) == {"es": {"S1": "es-male-1", "S2": "es-female-1"}}
    assert sorted(cast.load(path).prints) == ["S1", "S2"]


def test_cast_option_wins_and_script_voices_are_not_recast(tmp_path):
    path = tmp_path / "series.toml"
    path.write_text('[es]\nS1 = "es-female-2"\n')
    lines = (Segment("L1", 0, 2000, "a", speaker="S1"), Segment("L2", 2000, 4000, "b", speaker="S2", voice="x"))
    script = Script("en", "es", lines)
    episode = Episode(Path("ep.mp4"), "es", cast={"S1": "es-male-1"}, cast_file=path)
    by_speaker = synthesize._speaker_voices(script, Job(episode, script=script), context(tmp_path), load_voices())
    assert by_speaker == {"S1": "es-male-1"}  # S2's lines have their own voice: nothing to cast
    assert tomllib.loads(path.read_text()) == {"es": {"S1": "es-female-2"}}  # the file is not rewritten


def test_translate_with_a_bad_cast_file_fails_before_any_work(tmp_path):
    from tests.clitools import dubkit

    bad = tmp_path / "cast.toml"
    bad.write_text('[es]\nS1 = ["es-male-1"]\n')
    done = dubkit("translate", tmp_path / "ep.mp4", "--to", "es", "--cast-file", bad, cache=tmp_path / "cache")
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and str(bad) in done.stderr
    assert not (tmp_path / "cache").exists()
