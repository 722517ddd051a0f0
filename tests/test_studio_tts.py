"""Studio TTS: Coqui XTTS through the real coqui-tts code path, on a tiny random-weight model built here."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from dubkit.casting.voices import Voice
from dubkit.errors import BackendUnavailable, ConfigError

LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")
MAX_AUDIO_TOKENS = 24  # each token is 1,024 samples at 22.05 kHz: at most ~1.1 s per sentence


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TTS_HOME", str(tmp_path / "tts"))  # an empty Coqui download folder


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    pytest.importorskip("torch", reason="torch is not installed (pip install 'dubkit[coqui]')")
    pytest.importorskip("TTS", reason="coqui-tts is not installed or not importable (see the Makefile)")
    from tests import tiny_models

    return tiny_models.xtts(tmp_path_factory.mktemp("xtts"), max_audio_tokens=MAX_AUDIO_TOKENS)


@pytest.fixture(scope="module")
def original(tmp_path_factory) -> Path:
    """Two LibriVox readings back to back (12 s), as ingest keeps the original soundtrack."""
    import soundfile

    from dubkit.audio import write_wav

    clips = [LIBRIVOX / f"sense_and_sensibility_01_austen_64kb-{n}.wav" for n in ("0870", "0880")]
    if not all(clip.is_file() for clip in clips):
        pytest.skip(f"LibriVox clips missing under {LIBRIVOX} (apt-get install pocketsphinx-testdata)")
    samples = [soundfile.read(str(clip), dtype="float32")[0][: 6 * 16000] for clip in clips]
    out = tmp_path_factory.mktemp("ingest") / "original.wav"
    write_wav(out, np.concatenate(samples), 16000)
    return out


def clone_of(reference: Path, language: str = "es") -> Voice:
    return Voice("clone@S1", "coqui", language, str(reference))


def test_bad_options_are_config_errors():
    from dubkit.backends.tts_coqui import CoquiSynthesizer, xtts_language

    with pytest.raises(ConfigError):
        CoquiSynthesizer(temperature=0)
    with pytest.raises(ConfigError):
        CoquiSynthesizer(gpt_cond_len=0)
    assert xtts_language("pt-BR", ["en", "pt"]) == "pt"
    assert xtts_language("zh-Hans", ["zh-cn"]) == "zh-cn"
    with pytest.raises(ConfigError, match="does not speak"):
        xtts_language("ja", ["en", "es"])


@pytest.mark.slow
def test_hub_name_offline_is_a_clear_error(tiny):
    from dubkit.backends.tts_coqui import XTTS_V2, CoquiSynthesizer

    with pytest.raises(BackendUnavailable) as error:
        CoquiSynthesizer(XTTS_V2).load()
    message = str(error.value)
    assert XTTS_V2 in message and "HF_HUB_OFFLINE" in message and "download it once" in message


@pytest.mark.slow
def test_clones_a_reference_by_local_path(tiny, original, tmp_path):
    from dubkit.audio import read_wav
    from dubkit.backends.tts_coqui import CoquiSynthesizer

    backend = CoquiSynthesizer(str(tiny), device="cpu")
    assert backend.languages() == ["de", "en", "es", "fr", "it", "pt"]
    backend.synthesize("Hola, ¿cómo estás?", clone_of(original), tmp_path / "a.wav")
    backend.synthesize("Hola, ¿cómo estás?", clone_of(original), tmp_path / "b.wav")
    samples, rate = read_wav(tmp_path / "a.wav")
    assert rate == 24000 and samples.ndim == 1 and np.isfinite(samples).all()
    assert 0 < len(samples) <= MAX_AUDIO_TOKENS * 1024 * 24000 // 22050 + rate // 2
    assert np.array_equal(samples, read_wav(tmp_path / "b.wav")[0])  # seeded: a re-take is the same take
    with pytest.raises(ConfigError, match="does not speak"):
        backend.synthesize("こんにちは", clone_of(original, "ja"), tmp_path / "c.wav")
    with pytest.raises(ConfigError, match="neither a reference WAV"):
        backend.synthesize("Hola.", clone_of(tmp_path / "missing.wav"), tmp_path / "d.wav")


@pytest.mark.slow
def test_fingerprint_hashes_the_weights(tiny, tmp_path):
    from dubkit.backends.tts_coqui import CoquiSynthesizer
    from tests import tiny_models

    first = CoquiSynthesizer(str(tiny)).fingerprint()
    assert first == CoquiSynthesizer(str(tiny)).fingerprint()
    assert "coqui-tts==" in first["library"] and "model.pth:sha256:" in first["weights"]
    other = tiny_models.xtts(tmp_path / "other", seed=1, max_audio_tokens=MAX_AUDIO_TOKENS)
    assert CoquiSynthesizer(str(other)).fingerprint()["weights"] != first["weights"]
    assert CoquiSynthesizer(str(tiny), seed=1).fingerprint()["options"] != first["options"]


@pytest.mark.slow
def test_synthesize_stage_clones_each_speaker_and_caches(tiny, original, tmp_path):
    from dubkit.cache import Cache
    from dubkit.config import load_preset
    from dubkit.job import Artefact, Episode, Job
    from dubkit.script import Script, Segment
    from dubkit.stages import synthesize
    from dubkit.stages.base import Backends, Context

    preset = tmp_path / "p.toml"
    preset.write_text(f'[synthesize]\nfallback_voice = "clone"\n[synthesize.options.coqui]\nmodel = "{tiny}"\n')
    lines = (
        Segment("L1", 0, 5800, "One.", speaker="A", translation="Uno."),
        Segment("L2", 6000, 8000, "Two.", speaker="B", translation="Dos."),
        Segment("L3", 8300, 11900, "Three.", speaker="B", translation="Tres."),
    )
    script = Script("en", "es", lines, ("A", "B"))
    job = Job(Episode(original, "es", "en"), {"ingest": Artefact("i" * 64, original.parent, True)}, script=script)
    job = dataclasses.replace(job, duration_s=12.0)
    ctx = Context(Cache(tmp_path / "cache"), load_preset(str(preset)), Backends())

    first = synthesize.run(job, ctx)
    assert first.script.references == {"A": ("L1",), "B": ("L3",)}  # A has no clean line: all of its lines
    assert {s.voice for s in first.script.segments} == {"clone"}  # the profile an editor can change
    assert [line.synthesized for line in first.lines] == [True, True, True]
    references = sorted((tmp_path / "cache" / "reference").glob("*/*/audio.wav"))
    assert len(references) == 2
    second = synthesize.run(job, ctx)
    assert second.artefacts["synthesize"].cached and second.script.references == first.script.references

    edited = dataclasses.replace(job, script=dataclasses.replace(script, references={"B": ("L2",)}))
    third = synthesize.run(edited, ctx)
    assert third.script.references == {"A": ("L1",), "B": ("L2",)}
    assert [line.synthesized for line in third.lines] == [False, True, True]  # only B's voice changed
