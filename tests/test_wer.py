"""WER normalization and scoring (jiwer)."""

from __future__ import annotations

import pytest

from dubkit.qa.wer import normalize, word_error_rate


def test_normalize_lowercases_and_strips_punctuation() -> None:
    assert normalize("And so, my fellow Americans: ask NOT!", "en") == "and so my fellow americans ask not"


def test_normalize_unifies_quotes_and_dashes_and_keeps_inner_apostrophes() -> None:
    assert normalize("“Don’t” — it's a well-known fact…", "en") == "don't it's a well known fact"
    assert normalize("'quoted'", "en") == "quoted"


def test_normalize_keeps_accents_and_decimals() -> None:
    assert normalize("¿Qué pasó, Ñandú? Costó 3,5 €.", "es") == "qué pasó ñandú costó 3,5"
    assert normalize("Über   Straße\t2.5", "de") == "über strasse 2.5"


def test_normalize_spaces_out_characters_for_chinese_and_japanese() -> None:
    assert normalize("我很好，谢谢！", "zh-Hans") == "我 很 好 谢 谢"
    assert normalize("東京に行く。", "ja") == "東 京 に 行 く"


def test_word_error_rate_counts_substitutions_deletions_insertions() -> None:
    reference = "ask not what your country can do for you"
    assert word_error_rate(reference, "Ask not, what your country can do for you.", "en") == 0.0
    assert word_error_rate(reference, "ask what your country can do for you", "en") == pytest.approx(1 / 9)
    assert word_error_rate(reference, "ask not what our country can do for you too", "en") == pytest.approx(2 / 9)


def test_word_error_rate_empty_cases() -> None:
    assert word_error_rate("", "", "en") == 0.0
    assert word_error_rate("...", "words", "en") == 1.0
    assert word_error_rate("some words", "", "en") == 1.0


def test_numbers_are_spelled_in_the_language() -> None:
    assert normalize("por 12 para 2013", "es") == "por doce para dos mil trece"
    assert normalize("25 anos", "pt-BR") == "vinte e cinco anos"
    assert word_error_rate("la proporción por 12", "la proporción por doce", "es") == 0.0
