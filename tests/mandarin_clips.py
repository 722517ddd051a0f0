"""Real read Mandarin for the tests and benchmarks/mandarin.py, and the measures both take of a transcript.

The f5-tts wheel (MIT, installed by `make setup` without its dependencies) ships a clip of read Mandarin; it is found
through the import system's spec without importing the package, whose dependencies are gigabytes.
"""

from __future__ import annotations

import importlib.util
import itertools
import unicodedata
from collections.abc import Sequence
from pathlib import Path

F5_ZH = "basic_ref_zh.wav"
# The wheel's own transcript of the clip: f5_tts/infer/speech_edit.py, `origin_text` beside `basic_ref_zh.wav`.
F5_ZH_TEXT = "对，这就是我，万人敬仰的太乙真人。"


def f5_clip(name: str = F5_ZH) -> Path | None:
    """The example clip *name* in the installed f5-tts wheel; None when f5-tts is not installed."""
    spec = importlib.util.find_spec("f5_tts")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "infer" / "examples" / "basic" / name
        if path.is_file():
            return path
    return None


def bare(text: str) -> str:
    """*text* without punctuation, symbols and spaces: what a character error rate compares."""
    return "".join(char for char in text if unicodedata.category(char)[0] not in "PSZ")


def simplified(text: str) -> str:
    import opencc

    return str(opencc.OpenCC("t2s").convert(text))


def character_error(reference: str, transcript: str) -> float:
    """Character error rate of *transcript* against *reference*, both in Simplified script, punctuation removed."""
    import jiwer

    return float(jiwer.cer(bare(simplified(reference)), bare(simplified(transcript))))


def is_simplified(text: str) -> bool:
    """True if *text* has Han characters and OpenCC's Traditional → Simplified conversion leaves it as it is."""
    has_han = any(unicodedata.name(char, "").startswith("CJK UNIFIED") for char in text)
    return has_han and simplified(text) == text


def cuts_inside_words(lines: Sequence[str]) -> list[str]:
    """The line boundaries that fall inside a jieba word of the joined text, as "before|after" snippets."""
    import jieba

    joined = "".join(lines)
    word_ends = {end for _, _, end in jieba.tokenize(joined)}
    ends = list(itertools.accumulate(len(line) for line in lines))[:-1]
    return [f"{joined[max(0, end - 3) : end]}|{joined[end : end + 3]}" for end in ends if end not in word_ends]
