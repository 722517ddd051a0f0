"""Studio ASR: openai-whisper, on a tiny random Whisper built here and on the bundled base weights converted."""

from __future__ import annotations

from pathlib import Path

import pytest

from dubkit.errors import BackendUnavailable, ConfigError

LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0870.wav")


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))  # an empty Whisper download cache


@pytest.fixture(scope="module")
def whisper_lib():
    pytest.importorskip("torch", reason="torch is not installed (pip install 'dubkit[whisper]')")
    return pytest.importorskip("whisper", reason="openai-whisper is not installed (see the Makefile)")


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """The first 4 s of a LibriVox recording, as the ingest stage writes it (16 kHz mono WAV)."""
    if not LIBRIVOX.is_file():
        pytest.skip(f"{LIBRIVOX} is missing (apt-get install pocketsphinx-testdata)")
    import soundfile

    from dubkit.audio import write_wav

    samples, rate = soundfile.read(str(LIBRIVOX), dtype="float32")
    assert rate == 16000
    out = tmp_path_factory.mktemp("ingest") / "speech.wav"
    write_wav(out, samples[: 4 * rate], rate)
    return out


@pytest.fixture(scope="module")
def tiny(whisper_lib, tmp_path_factory) -> Path:
    from tests import tiny_models

    return tiny_models.whisper_checkpoint(tmp_path_factory.mktemp("whisper") / "tiny.pt")


def test_bad_options_are_config_errors():
    from dubkit.backends.asr_whisper import WhisperTranscriber

    with pytest.raises(ConfigError):
        WhisperTranscriber(beam_size=0)
    with pytest.raises(ConfigError, match="English-only"):
        WhisperTranscriber("small.en").transcribe(Path("unused.wav"), "es")


@pytest.mark.slow
def test_uncached_official_model_offline_is_a_clear_error(whisper_lib):
    from dubkit.backends.asr_whisper import WhisperTranscriber

    with pytest.raises(BackendUnavailable) as error:
        WhisperTranscriber("large-v3").load()
    message = str(error.value)
    assert "'large-v3'" in message and "HF_HUB_OFFLINE" in message and "local .pt" in message


@pytest.mark.slow
def test_a_file_that_is_not_weights_is_rejected(whisper_lib, tmp_path):
    from dubkit.backends.asr_whisper import WhisperTranscriber

    bogus = tmp_path / "bogus.pt"
    bogus.write_bytes(b"not a checkpoint")
    with pytest.raises(BackendUnavailable, match="bogus.pt"):
        WhisperTranscriber(str(bogus)).load()


@pytest.mark.slow
def test_tiny_checkpoint_by_local_path(tiny, clip):
    from dubkit.backends.asr_whisper import WhisperTranscriber

    backend = WhisperTranscriber(str(tiny), beam_size=1)
    transcript = backend.transcribe(clip, "es")
    assert transcript.language == "es"  # forced
    for index, segment in enumerate(transcript.segments, 1):
        assert segment.id == f"L{index:04d}"
        assert isinstance(segment.start_ms, int) and 0 <= segment.start_ms < segment.end_ms <= 4100
        assert all(segment.start_ms <= w.start_ms <= w.end_ms <= segment.end_ms for w in segment.words)
    assert backend.transcribe(clip, None).language  # detection runs


@pytest.mark.slow
def test_fingerprint_is_the_checkpoint_digest(tiny, tmp_path):
    from dubkit.backends.asr_whisper import WhisperTranscriber
    from tests import tiny_models

    other = tiny_models.whisper_checkpoint(tmp_path / "other.pt", seed=1)
    first = WhisperTranscriber(str(tiny)).fingerprint()
    assert first == WhisperTranscriber(str(tiny)).fingerprint()
    assert first["weights"].startswith("sha256:") and "openai-whisper==" in first["library"]
    assert WhisperTranscriber(str(other)).fingerprint()["weights"] != first["weights"]


@pytest.mark.slow
def test_transcribe_stage_caches(tiny, clip, tmp_path):
    from dubkit.cache import Cache
    from dubkit.config import load_preset
    from dubkit.job import Artefact, Episode, Job
    from dubkit.stages import transcribe
    from dubkit.stages.base import Backends, Context

    preset = tmp_path / "p.toml"
    preset.write_text(f'[transcribe]\nbackend = "whisper"\n[transcribe.options]\nmodel = "{tiny}"\nbeam_size = 1\n')
    job = Job(Episode(clip, "en", "es"), {"ingest": Artefact("i" * 64, clip.parent, True)})
    ctx = Context(Cache(tmp_path / "cache"), load_preset(str(preset)), Backends())
    first = transcribe.run(job, ctx)
    second = transcribe.run(job, ctx)
    assert not first.artefacts["transcribe"].cached and second.artefacts["transcribe"].cached
    saved = transcribe.load(second.entry("transcribe") / "transcript.json")
    assert saved.language == "es" and saved.segments


@pytest.mark.slow
def test_bundled_base_converted_matches_faster_whisper(whisper_lib, clip):
    pytest.importorskip("faster_whisper", reason="faster-whisper is not installed")
    from dubkit.backends.asr_faster_whisper import FasterWhisperTranscriber
    from dubkit.backends.asr_whisper import WhisperTranscriber

    try:
        openai = WhisperTranscriber("embedded:base", beam_size=1).transcribe(clip, "en")
    except BackendUnavailable as exc:
        pytest.skip(f"embedded Whisper base unavailable: {exc}")
    faster = FasterWhisperTranscriber(beam_size=1, compute_type="float32", vad=False).transcribe(clip, "en")
    assert [s.text for s in openai.segments] == [s.text for s in faster.segments]
    assert "sense" in " ".join(s.text for s in openai.segments).lower() or openai.segments
