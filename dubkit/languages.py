"""Language codes: BCP-47 tags in, canonical tags and ISO 639-2 codes out."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from functools import cache, lru_cache
from typing import Any

from dubkit.errors import BackendUnavailable, ConfigError

_TAG = re.compile(r"^(?P<lang>[A-Za-z]{2,3})(?:-(?P<script>[A-Za-z]{4}))?(?:-(?P<region>[A-Za-z]{2}|\d{3}))?$")


def canonical(tag: str) -> str:
    """Return the canonical form of a BCP-47 tag ('PT-br' → 'pt-BR'); ConfigError for an unknown language."""
    match = _TAG.match(tag.strip().replace("_", "-"))
    if not match or _lookup(match["lang"].lower()) is None:
        raise ConfigError(f"unknown language code {tag!r} (use a BCP-47 code such as en, es, pt-BR, zh-Hans)")
    parts = [match["lang"].lower()]
    if match["script"]:
        parts.append(match["script"].title())
    if match["region"]:
        parts.append(match["region"].upper())
    return "-".join(parts)


def primary(tag: str) -> str:
    """The language subtag alone: 'pt-BR' → 'pt'."""
    return canonical(tag).split("-")[0]


def iso639_2(tag: str) -> str:
    """ISO 639-2 (bibliographic where one exists) for container language tags: 'fr' → 'fre', 'es' → 'spa'."""
    language = _lookup(primary(tag))
    return getattr(language, "bibliographic", None) or language.alpha_3


def name(tag: str) -> str:
    return _lookup(primary(tag)).name


def has_words(text: str) -> bool:
    """True if *text* has a letter or a digit (in any script), not only spaces and punctuation."""
    return any(unicodedata.category(char)[0] in "LN" for char in text)


def same_language(a: str, b: str) -> bool:
    """True when two tags name the same language, ignoring region/script ('pt' and 'pt-BR')."""
    return primary(a) == primary(b)


@lru_cache(maxsize=256)
def _lookup(code: str) -> Any:  # a pycountry language record, or None
    import pycountry

    key = "alpha_2" if len(code) == 2 else "alpha_3"
    return pycountry.languages.get(**{key: code})


def chinese_conversion(tag: str) -> str | None:
    """The OpenCC configuration that writes Chinese in the script *tag* asks for; None for other languages.

    Simplified unless the tag says Traditional, by script (`zh-Hant`) or by a region that writes it (`zh-TW`,
    `zh-HK`, `zh-MO`); Taiwan and Hong Kong get their own character standards.
    """
    if not is_chinese(tag):
        return None
    match = _TAG.match(canonical(tag))
    assert match is not None  # canonical() has checked it
    region = match["region"] or ""
    if match["script"] == "Hans" or (match["script"] is None and region not in _TRADITIONAL_REGIONS):
        return "t2s"
    return _TRADITIONAL_REGIONS.get(region, "s2t")


@cache
def chinese_converter(conversion: str) -> Callable[[str], str]:
    """Text → the same text converted by OpenCC's *conversion* (`t2s`, `s2t`, `s2tw`, `s2hk`), loaded once per
    process (its dictionaries take ~15 ms); BackendUnavailable where opencc is not installed."""
    try:
        import opencc
    except ImportError as exc:
        raise BackendUnavailable("zh", f"opencc is not installed ({exc})", "pip install 'dubkit[zh]'") from None
    return opencc.OpenCC(conversion).convert


def is_chinese(tag: str) -> bool:
    """True for Chinese (`zh`, `zh-Hant`, `cmn`): written without spaces between words, in either script."""
    return tag.strip().replace("_", "-").split("-")[0].lower() in _CHINESE


_CHINESE = frozenset({"zh", "cmn"})
_TRADITIONAL_REGIONS = {"TW": "s2tw", "HK": "s2hk", "MO": "s2hk"}
