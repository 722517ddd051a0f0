"""What the transformers and CTranslate2 translators share: all of a Marian / NLLB-200 / M2M100 translator but
loading the network and generating (`Seq2SeqTranslator`; `mt_transformers` and `mt_ctranslate2` add those).

`model` is a hub name (`Helsinki-NLP/opus-mt-en-es`, `facebook/nllb-200-distilled-600M`,
`facebook/m2m100_418M`; taken from the local Hugging Face cache, downloaded once when a network is
there and HF_HUB_OFFLINE is unset) or a local directory saved by `save_pretrained` (or converted by CTranslate2).
BCP-47 tags are mapped to each family's codes (`pt-BR` → `pt` / `por_Latn`, `zh-Hant` → `zho_Hant`).
Lines are translated in length-sorted batches. Glossary terms are put
into the source in their target form before translation (NMT copies such names) and checked after.
"""

from __future__ import annotations

import json
import logging
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dubkit import languages
from dubkit.backends import registry
from dubkit.backends._fingerprint import file_sha256, library_versions
from dubkit.backends.base import TranslationRequest
from dubkit.errors import BackendUnavailable, ConfigError, one_line

log = logging.getLogger(__name__)

NAME = "mt/transformers"  # the backend named in errors about resolving models and their families
MARIAN, M2M100, NLLB = "marian", "m2m100", "nllb"
_WEIGHTS = ("*.safetensors", "pytorch_model*.bin", "model.bin")
_TOKENIZER_FILES = ("tokenizer.json", "vocab.json", "source.spm", "target.spm", "sentencepiece.bpe.model")
# ISO 639-1 → the ISO 639-3 code NLLB-200 uses where it picked one language of a macrolanguage.
_NLLB_OVERRIDES = {
    "ar": "arb", "az": "azj", "et": "est", "fa": "pes", "gn": "grn", "ku": "kmr", "lv": "lvs", "mg": "plt",
    "mn": "khk", "ms": "zsm", "nb": "nob", "ne": "npi", "no": "nob", "om": "gaz", "or": "ory", "ps": "pbt",
    "qu": "quy", "sq": "als", "sw": "swh", "uz": "uzn", "yi": "ydd", "zh": "zho",
}  # fmt: skip
_TRADITIONAL = {"TW", "HK", "MO"}


@dataclass(frozen=True)
class Family:
    """What kind of model this is and which languages it translates (`*` = any)."""

    kind: str
    sources: tuple[str, ...]
    targets: tuple[str, ...]
    prefixed: bool = False  # a multi-target Marian model: the target is chosen by a `>>xx<<` first token


class Seq2SeqTranslator(ABC):
    """Marian / NLLB / M2M100 translation; `pair` ("en-es") names a Marian model's pair when its name does not.

    A subclass loads the tokenizer and network (`_load`) and generates a batch (`generate`); `name` is the backend
    it is, `engine` goes into the fingerprint."""

    name = NAME
    engine = ""

    def __init__(
        self,
        model: str = "Helsinki-NLP/opus-mt-en-es",
        device: str = "auto",
        batch_size: int = 16,
        beam_size: int = 4,
        glossary: Mapping[str, str] | None = None,
        pair: str = "",
    ) -> None:
        if batch_size < 1 or beam_size < 1:
            raise ConfigError(f"{self.name}: batch_size and beam_size must be ≥ 1")
        if pair and pair.count("-") < 1:
            raise ConfigError(f"{self.name}: pair must look like 'en-es', not {pair!r}")
        self.model, self.device, self.batch_size, self.beam_size = model, device, batch_size, beam_size
        self.glossary = dict(glossary or {})
        self.pair = pair
        self._loaded: tuple[Any, Any] | None = None
        self._path: Path | None = None
        self._weights: str | None = None

    # --- the backend contract -------------------------------------------------------------------------

    def fingerprint(self) -> dict[str, str]:
        if self._weights is None:
            self._weights = _weights_identity(self.model)
        options = {"beam_size": self.beam_size, "glossary": self.glossary, "pair": self.pair, "engine": self.engine}
        return {
            "library": library_versions("transformers", "torch", "ctranslate2"),
            "model": self.model,
            "weights": self._weights,
            "options": json.dumps(options, sort_keys=True, ensure_ascii=False),
        }

    def load(self) -> None:
        if self._loaded is None:
            self._loaded = self._load(self.path())
            log.info("%s loaded %s (%s)", self.name, self.model, self.family().kind)

    def close(self) -> None:
        self._loaded = None

    def pairs(self) -> list[tuple[str, str]]:
        family = self.family()
        return [(s, t) for s in family.sources for t in family.targets if s != t]

    def supports(self, source: str, target: str) -> bool:
        try:
            self.codes(source, target)
        except ConfigError:
            return False
        return True

    def translate(self, request: TranslationRequest) -> list[str]:
        """One translation per line, same order; empty lines stay empty."""
        source, target = self.codes(request.source, request.target)
        protected = [protect(text, self.glossary) for text in request.texts]
        order = sorted((i for i, text in enumerate(request.texts) if text.strip()), key=lambda i: len(protected[i]))
        out = [""] * len(request.texts)
        self.load()
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            for index, text in zip(batch, self.generate([protected[i] for i in batch], source, target), strict=True):
                out[index] = text.strip()
        for index, text in enumerate(out):
            missing = missing_terms(protected[index], text, self.glossary)
            if missing:
                lost = ", ".join(missing)
                log.warning("%s line %d: glossary terms lost in translation: %s", self.name, index + 1, lost)
        return out

    # --- language codes ---------------------------------------------------------------------------------

    def family(self) -> Family:
        return family_of(self.path(), self.model, self.pair)

    def codes(self, source: str, target: str) -> tuple[str, str]:
        """The model's own codes for a BCP-47 pair; ConfigError when it cannot translate it."""
        family = self.family()
        src, tgt = model_code(family, source, sources=True), model_code(family, target, sources=False)
        if src is None or tgt is None:
            raise ConfigError(f"{self.name} model {self.model!r} cannot translate {source} → {target}")
        return src, tgt

    # --- the work ---------------------------------------------------------------------------------------

    def path(self) -> Path:
        if self._path is None:
            self._path = resolve(self.model)
        return self._path

    @abstractmethod
    def generate(self, texts: list[str], source: str, target: str) -> list[str]:
        """The translations of one batch, in the model's codes *source* → *target* (after `load`)."""

    @abstractmethod
    def _load(self, path: Path) -> tuple[Any, Any]:
        """(tokenizer, network) of the model at *path*."""


# --- model families and language codes -------------------------------------------------------------------


def family_of(path: Path, name: str, pair: str = "") -> Family:
    """Marian (one pair, or `>>xx<<` targets), M2M100 or NLLB, read from the model's config files."""
    config = _json(path / "config.json")
    tokenizer = _json(path / "tokenizer_config.json")
    if "nllb" in str(tokenizer.get("tokenizer_class", "")).lower() or "nllb" in name.lower():
        return Family(NLLB, _nllb_codes(), _nllb_codes())
    if config.get("model_type") == "m2m_100":
        return Family(M2M100, _m2m_codes(), _m2m_codes())
    if config.get("model_type") != "marian":
        raise BackendUnavailable(NAME, f"{name}: model type {config.get('model_type')!r} is not Marian, NLLB or M2M100")
    source, target = _marian_pair(name, tokenizer, pair)
    prefixes = tuple(sorted(re.findall(r">>([\w-]+)<<", " ".join(_json(path / "vocab.json")))))
    return Family(MARIAN, (source,), prefixes, True) if prefixes else Family(MARIAN, (source,), (target,))


def model_code(family: Family, tag: str, sources: bool) -> str | None:
    """A BCP-47 tag → the model's code for it (`>>spa<<` for a Marian target prefix), or None."""
    canonical = languages.canonical(tag)
    primary = canonical.split("-")[0]
    known = family.sources if sources else family.targets
    if family.kind == NLLB:
        return _nllb_code(canonical, known)
    if family.kind == M2M100:
        return primary if primary in known else None
    if "*" in known:
        return primary
    lowered = {code.lower(): code for code in known}
    for candidate in (canonical.replace("-", "_").lower(), primary, _alpha3(primary)):
        if candidate in lowered:
            code = lowered[candidate]
            return f">>{code}<<" if family.prefixed and not sources else code
    return None


def _nllb_code(canonical: str, known: tuple[str, ...]) -> str | None:
    parts = canonical.split("-")
    base = _NLLB_OVERRIDES.get(parts[0]) or _alpha3(parts[0])
    script = next((p for p in parts[1:] if len(p) == 4), "")
    if not script and parts[0] == "zh":
        script = "Hant" if any(p in _TRADITIONAL for p in parts[1:]) else "Hans"
    options = [code for code in known if code.split("_")[0] == base]
    return next((c for c in options if c.endswith("_" + script)), options[0] if options else None)


def _marian_pair(name: str, tokenizer: Mapping[str, Any], pair: str) -> tuple[str, str]:
    if pair:
        source, _, target = pair.partition("-")
        return source, target
    named = tokenizer.get("source_lang"), tokenizer.get("target_lang")
    if all(named):
        return _group(str(named[0])), _group(str(named[1]))
    match = re.search(r"opus-mt-(?:tc-(?:big|base)-)?([A-Za-z_]+)-([A-Za-z_]+)", name)
    if not match:
        raise BackendUnavailable(NAME, f"cannot tell which languages Marian model {name!r} translates", "set pair")
    return _group(match[1]), _group(match[2])


def _group(code: str) -> str:
    """Marian's group names (`ROMANCE`, `mul`, `gem`) accept several languages: treated as any."""
    return "*" if code.isupper() or code in ("mul", "gem", "gmw", "roa", "sla", "zle") else code


def token(kind: str, code: str) -> str:
    """The token that makes an M2M100 / NLLB model write in language *code*."""
    return f"__{code}__" if kind == M2M100 else code


def _alpha3(code: str) -> str:
    """ISO 639-3 (`fr` → `fra`, not the bibliographic `fre`), as NLLB and newer opus-mt models use."""
    import pycountry

    found = pycountry.languages.get(alpha_2=code) if len(code) == 2 else None
    return str(found.alpha_3) if found is not None else code


def _nllb_codes() -> tuple[str, ...]:
    from transformers.models.nllb.tokenization_nllb import FAIRSEQ_LANGUAGE_CODES

    return tuple(FAIRSEQ_LANGUAGE_CODES)


def _m2m_codes() -> tuple[str, ...]:
    from transformers.models.m2m_100.tokenization_m2m_100 import FAIRSEQ_LANGUAGE_CODES

    return tuple(FAIRSEQ_LANGUAGE_CODES["m2m100"])


# --- resolving, identity, glossary -----------------------------------------------------------------------


def resolve(model: str) -> Path:
    """A local model directory, or the cached snapshot of a hub name (downloaded when allowed)."""
    path = Path(model).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise BackendUnavailable(NAME, f"{path} is not a transformers model directory (no config.json)")
        return path
    if not re.fullmatch(r"[\w.-]+(/[\w.-]+)?", model):
        raise BackendUnavailable(NAME, f"model {model!r} is neither a directory nor a hub name")
    how = f"run `hf download {model}` with network access, or pass a local directory"
    try:
        from huggingface_hub import snapshot_download
    except ImportError as exc:
        raise registry.unavailable(NAME, f"huggingface_hub is not installed ({exc})") from None
    try:
        return Path(snapshot_download(model, local_files_only=True))
    except Exception:  # noqa: BLE001 - any failure here means "not cached"
        pass
    if offline():
        raise BackendUnavailable(
            NAME, f"model {model!r} is not in the Hugging Face cache and HF_HUB_OFFLINE is set", how
        )
    try:
        log.info("downloading %s from the Hugging Face hub", model)
        return Path(snapshot_download(model, etag_timeout=10))
    except Exception as exc:  # noqa: BLE001 - network, auth, unknown repo
        raise BackendUnavailable(NAME, f"model {model!r} cannot be downloaded ({one_line(exc)})", how) from None


def offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")


def _weights_identity(model: str) -> str:
    """sha256 of the weights and tokenizer files of a local directory; a hub model's cached commit."""
    path = Path(model).expanduser()
    if not path.is_dir():
        return f"hub:{model}@{_cached_commit(model)}"
    files = sorted({f for pattern in _WEIGHTS + _TOKENIZER_FILES for f in path.glob(pattern) if f.is_file()})
    if not any(f.suffix in (".safetensors", ".bin") for f in files):
        raise BackendUnavailable(NAME, f"{path} holds no model weights (*.safetensors, *.bin)")
    return " ".join(f"{f.name}:sha256:{file_sha256(f)}" for f in files)


def _cached_commit(model: str) -> str:
    root = Path(
        os.environ.get("HF_HUB_CACHE") or Path(os.environ.get("HF_HOME", Path.home() / ".cache/huggingface")) / "hub"
    )
    ref = root / f"models--{model.replace('/', '--')}" / "refs" / "main"
    try:
        return ref.read_text().strip()
    except OSError:
        return "uncached"


def protect(text: str, glossary: Mapping[str, str]) -> str:
    """Put each glossary term into the source in its target form (longest terms first, whole words)."""
    for term in sorted(glossary, key=len, reverse=True):
        replacement = glossary[term]
        text = re.sub(rf"(?<!\w){re.escape(term)}(?!\w)", replacement.replace("\\", "\\\\"), text, flags=re.IGNORECASE)
    return text


def missing_terms(protected: str, translation: str, glossary: Mapping[str, str]) -> list[str]:
    """Target terms that were in the (protected) source but are not in the translation."""
    wanted = {v for v in glossary.values() if v.casefold() in protected.casefold()}
    return sorted(v for v in wanted if v.casefold() not in translation.casefold())


def _json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
