"""Word error rate with a light, language-aware text normalization (jiwer does the alignment)."""

from __future__ import annotations

import re
import unicodedata

VERSION = 1  # bump when a change here changes the bytes of a cache entry (see dubkit.cache)
# Scripts written without spaces: scored per character (so "WER" there is a character error rate).
CHARACTER_LANGUAGES = frozenset({"zh", "ja", "th", "lo", "km", "my", "yue", "bo"})
_QUOTES = str.maketrans(
    {"‘": "'", "’": "'", "ʼ": "'", "`": "'", "´": "'", "“": '"', "”": '"', "„": '"', "«": '"', "»": '"'}
)
_DASHES = re.compile(r"[\u2010-\u2015\u2212\-_/]+")
_INNER_PUNCT = re.compile(r"(?<=\w)'(?=\w)|(?<=\d)[.,](?=\d)")
_SPACE_CHARS = re.compile(r"\s+")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
# num2words language codes for the tags that differ from the primary subtag
_NUM2WORDS = {"pt-BR": "pt_BR"}


def normalize(text: str, language: str) -> str:
    """Lowercase, unify quotes and dashes, drop punctuation (keeping accents, inner apostrophes and
    decimal points), collapse spaces. For languages written without spaces, space out the characters."""
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES).casefold()
    text = _spell_numbers(text, language)
    text = _DASHES.sub(" ", text)
    kept = []
    for index, char in enumerate(text):
        category = unicodedata.category(char)
        if category[0] in "LMN" or char.isspace() or _INNER_PUNCT.match(text, index):
            kept.append(char)
        else:
            kept.append(" ")
    text = "".join(kept)
    if _primary(language) in CHARACTER_LANGUAGES:
        text = " ".join(char for char in text if not char.isspace())
    return _SPACE_CHARS.sub(" ", text).strip()


def word_error_rate(reference: str, hypothesis: str, language: str) -> float:
    """WER of `hypothesis` against `reference` after `normalize`. An empty reference scores 0.0 if the
    hypothesis is empty too, else 1.0."""
    import jiwer

    ref, hyp = normalize(reference, language), normalize(hypothesis, language)
    if not ref:
        return 0.0 if not hyp else 1.0
    if not hyp:
        return 1.0
    return float(jiwer.wer(ref, hyp))


def _spell_numbers(text: str, language: str) -> str:
    """Whole numbers as words ("12" → "doce"), so a voice saying a number matches a script writing it."""
    from num2words import num2words

    code = _NUM2WORDS.get(language, _primary(language))
    try:
        num2words(1, lang=code)
    except NotImplementedError:
        return text

    def spell(match: re.Match[str]) -> str:
        number = match.group()
        return number if not number.isdigit() else f" {num2words(int(number), lang=code)} "

    return _NUMBER.sub(spell, text)


def _primary(language: str) -> str:
    return language.strip().replace("_", "-").split("-")[0].lower()
