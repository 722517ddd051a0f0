"""Safe condensation of subtitle text: what a subtitler drops without a second thought, and nothing else.

`dubkit.subtitles` applies it to a line's subtitle only where its cues cannot be read at the reading speed; never
to the dub (the voice says the whole translation), never to a `subtitle` an editor wrote. Per language (`RULES`,
by primary tag; a language without rules gets the punctuation rules alone) it removes:
- hesitations (`uh`, `um`, `eh`, `hmm` …) wherever they stand, with the commas or ellipsis that set them off
  (not `¿Eh?`: a question is not a hesitation);
- fillers that open a sentence (`Well,` `Bueno,` `Pues` `O sea,` …): one written with a comma only when a comma
  follows it; the next word is capitalized in its place;
- asides that are pure fillers when commas set them off (`you know`, `tu sais`);
- a word said again at once (`No, no, no.` → `No.`, `very very` → `very`, `I... I` → `I`), but not a language's
  words that stand twice in a correct sentence (`had had`, `die die`, `nous nous`, `così così`, numbers, laughter) nor a
  capitalized repeat (names: `Bora Bora`);
- stutters (`I- I think`, `Th- the`);
- doubled punctuation (`!!`, `¿¿`, `,,`) and ellipses longer than three dots.
Words that can carry meaning (`so`, `like`, `then`, a correction's `I mean` mid-sentence) are left alone.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass

from dubkit import languages

VERSION = 1  # bump when a change here changes the bytes of a cache entry (see dubkit.cache)
WORD = r"[^\W\d_]+(?:'[^\W\d_]+)?"
SENTENCE_START = r"(?:^|(?<=[.!?…]\s)|(?<=[¿¡]))"
NEXT = r"(?P<next>[¿¡\"«]?[^\W\d_])"  # the first letter after what is cut (behind an opening mark)
MAX_PASSES = 4  # one rule's cut can open the way for another's (`Well, um, I…`)
MIN_WORDS_AFTER_OPENER = 3  # `Well, thanks.` answers: an opener is cut only before a clause this long


@dataclass(frozen=True)
class Rules:
    """What may go in one language; entries match whole words, in any case."""

    hesitations: tuple[str, ...] = ()
    openers: tuple[str, ...] = ()  # at a sentence's start; one ending in "," only when a comma follows it
    asides: tuple[str, ...] = ()  # set off by commas (or a comma and the sentence's end)
    doubles: tuple[str, ...] = ()  # words that may stand twice in a row in a correct sentence: never collapsed


RULES = {
    "en": Rules(
        hesitations=("uh", "uhm", "um", "umm", "er", "erm", "hmm", "mmm"),
        openers=("well,", "I mean,", "you know,"),
        asides=("you know",),
        doubles=("had", "that", "is", "do", "so", "knock", "chop", "tut", "hush", "ha")
        + ("zero", "oh", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"),
    ),
    "es": Rules(
        hesitations=("eh", "ehm", "mmm", "hmm"),
        openers=("bueno,", "pues", "o sea,"),
        doubles=("como", "para", "ja")
        + ("cero", "uno", "una", "dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho", "nueve"),
    ),
    "pt": Rules(
        hesitations=("hum", "hmm", "ahn", "hã", "éh"),
        openers=("olha,", "tipo,"),
        asides=("tipo",),
        doubles=("como", "para", "que", "se", "ha")
        + ("zero", "um", "uma", "dois", "duas", "três", "quatro", "cinco", "seis", "sete", "oito", "nove"),
    ),
    "fr": Rules(
        hesitations=("euh", "heu", "hum", "hmm"),
        openers=("bon,", "ben,", "eh bien,"),
        asides=("tu sais", "vous savez", "tu vois"),
        doubles=("nous", "vous", "ha")
        + ("zéro", "un", "une", "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf"),
    ),
    "it": Rules(
        hesitations=("ehm", "ehh", "uhm", "mmm", "hmm"),
        openers=("beh,", "ecco,"),
        asides=("sai",),
        doubles=("così", "piano", "ah")
        + ("zero", "uno", "una", "due", "tre", "quattro", "cinque", "sei", "sette", "otto", "nove"),
    ),
    "de": Rules(
        hesitations=("äh", "ähm", "öh", "öhm", "hm", "hmm"),
        openers=("also,", "na ja,", "naja,", "nun,", "tja,"),
        asides=("weißt du", "wissen Sie"),
        doubles=("der", "die", "das", "den", "dem", "des", "sie", "ha")
        + ("null", "eins", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun"),
    ),
}


def rules_for(language: str) -> Rules:
    """The rules of *language* (`pt-BR` → `pt`); none but the punctuation ones for a language without a table."""
    return RULES.get(languages.primary(languages.canonical(language)).lower(), Rules())


def condense(text: str, language: str) -> str:
    """*text* with the hesitations, fillers, repetitions, stutters and doubled punctuation of *language* removed;
    the text itself where nothing can go (or everything would)."""
    rules = rules_for(language)
    steps = _steps(rules)
    shorter = " ".join(text.split())
    for _ in range(MAX_PASSES):
        before = shorter
        for step in steps:
            shorter = " ".join(step(shorter).split())
        if shorter == before:
            break
    return shorter if shorter != " ".join(text.split()) and re.search(r"\w", shorter) else text


@functools.cache
def _steps(rules: Rules) -> list[Callable[[str], str]]:
    """Openers first: the comma after one (`Bueno, eh, no sé`) is not a hesitation's."""
    return [
        _opener_cutter(rules.openers),
        _hesitation_cutter(rules.hesitations),
        _aside_cutter(rules.asides),
        _repeat_collapser(rules.doubles),
        _stutter_cutter(),
        _punctuation_tidier(),
    ]


def _alternatives(phrases: tuple[str, ...]) -> str:
    """A regex matching any of *phrases* as whole words (longest first), spaces matching any run of spaces."""
    ordered = sorted(phrases, key=len, reverse=True)
    return r"\b(?:" + "|".join(r"\s+".join(map(re.escape, p.split())) for p in ordered) + r")\b"


def _capitalized(cut: str, following: str) -> str:
    """*following* with its first letter capitalized where the *cut* text began with a capital."""
    if not cut[:1].isupper():
        return following
    first = next(i for i, char in enumerate(following) if char.isalpha())
    return following[:first] + following[first].upper() + following[first + 1 :]


def _hesitation_cutter(hesitations: tuple[str, ...]) -> Callable[[str], str]:
    """Hesitations opening a sentence (the next word capitalized as they were), or set off by commas, an ellipsis
    or spaces within it; never one asked or exclaimed (`¿Eh?`, `Hmm!`)."""
    if not hesitations:
        return lambda text: text
    word = r"(?<![¿¡])" + _alternatives(hesitations) + r"(?![?!])"
    opening = re.compile(SENTENCE_START + rf"(?P<cut>{word}(?:,|\.+|…)?\s+)" + NEXT, re.IGNORECASE)
    inside = re.compile(rf",?\s+{word},?(?:\.\.\.|…)?(?=\s|[.!?;:]|$)", re.IGNORECASE)

    def cut(text: str) -> str:
        text = opening.sub(lambda m: _capitalized(m["cut"], m["next"]), text)
        return inside.sub("", text)

    return cut


def _repeat_collapser(doubles: tuple[str, ...]) -> Callable[[str], str]:
    """A word said again at once (after a comma, an ellipsis or a space) said once; the repeats must be lower
    case (a name like `Bora Bora` is not a repeat), the word not one of the language's *doubles*."""
    pattern = re.compile(rf"\b(?P<word>{WORD})(?P<rest>(?:(?:,|\.\.\.|…)?\s+(?P=word)\b)+)(?!['-])", re.IGNORECASE)
    keep = {d.casefold() for d in doubles}

    def collapse(match: re.Match[str]) -> str:
        repeats = re.findall(WORD, match["rest"])
        if match["word"].casefold() in keep or not all(r.islower() or len(r) == 1 for r in repeats):
            return match[0]
        return match["word"]

    return lambda text: pattern.sub(collapse, text)


def _stutter_cutter() -> Callable[[str], str]:
    """`I- I think` → `I think`, `Th- the` → `The`: a cut-off start of the next word, a hyphen and a space."""
    pattern = re.compile(r"\b(?P<cut>(?P<part>[^\W\d_]+)-\s+)(?P<next>(?P=part))", re.IGNORECASE)
    return lambda text: pattern.sub(lambda m: _capitalized(m["cut"], m["next"]), text)


def _aside_cutter(asides: tuple[str, ...]) -> Callable[[str], str]:
    """`It was, you know, hard.` → `It was hard.`; `Hard, you know.` → `Hard.`"""
    if not asides:
        return lambda text: text
    pattern = re.compile(r",\s+" + _alternatives(asides) + r"(?:,(?=\s)|(?=[.!?…]))", re.IGNORECASE)
    return lambda text: pattern.sub("", text)


def _opener_cutter(openers: tuple[str, ...]) -> Callable[[str], str]:
    """A filler opening a sentence of at least `MIN_WORDS_AFTER_OPENER` more words (`Well, thanks.` is an answer,
    not a filler); the next word capitalized where the filler was."""
    if not openers:
        return lambda text: text
    forms = [_alternatives((o.removesuffix(","),)) + ("," if o.endswith(",") else ",?") for o in openers]
    clause = rf"(?=[^\s.!?…]*(?:\s+[^\s.!?…]+){{{MIN_WORDS_AFTER_OPENER - 1}}})"
    pattern = re.compile(SENTENCE_START + r"(?P<cut>(?:" + "|".join(forms) + r")\s+)" + NEXT + clause, re.IGNORECASE)
    return lambda text: pattern.sub(lambda m: _capitalized(m["cut"], m["next"]), text)


def _punctuation_tidier() -> Callable[[str], str]:
    """`!!` → `!`, `¿¿` → `¿`, `,,` → `,`; four dots or more → `...`; `……` → `…`."""
    doubled = re.compile(r"([!?¡¿,;:])\1+")
    dots = re.compile(r"\.{4,}")
    ellipses = re.compile(r"…{2,}")

    def tidy(text: str) -> str:
        return ellipses.sub("…", dots.sub("...", doubled.sub(r"\1", text)))

    return tidy
