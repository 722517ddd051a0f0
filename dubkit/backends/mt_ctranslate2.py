"""Translate backend: Marian / NLLB / M2M100 converted to CTranslate2 — the transformers backend's faster engine.

`model` is a directory made by `ct2-transformers-converter --model NAME --output_dir DIR
--copy_files tokenizer_config.json ...` (the tokenizer files copied beside `model.bin`), or a hub
repository that holds such a conversion. Tokenization, language codes, batching and the glossary are
the transformers backend's (`dubkit.backends._transformers`); only generation runs in CTranslate2. On 2 CPU
cores at opus-mt size, the same float32 weights ran about as fast as transformers (1.05x); `compute_type =
"int8"` (quantized) ran 1.6x faster (benchmarks/studio_backends.py).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dubkit.backends import registry
from dubkit.backends._torch import torch_device
from dubkit.backends._transformers import MARIAN, Seq2SeqTranslator, token
from dubkit.errors import BackendUnavailable, ConfigError, StageFailed, one_line

log = logging.getLogger(__name__)

NAME = "mt/ctranslate2"


class CTranslate2Translator(Seq2SeqTranslator):
    """CTranslate2 generation with the model's Hugging Face tokenizer; `compute_type` int8 is the fastest on CPU."""

    name = NAME
    engine = "ctranslate2"

    def __init__(
        self,
        model: str,
        device: str = "auto",
        batch_size: int = 32,
        beam_size: int = 4,
        glossary: Mapping[str, str] | None = None,
        compute_type: str = "default",
    ) -> None:
        super().__init__(model, device, batch_size, beam_size, glossary)
        if compute_type not in ("default", "auto", "int8", "int8_float32", "int8_float16", "float16", "float32"):
            raise ConfigError(f"{NAME}: unknown compute_type {compute_type!r}")
        self.compute_type = compute_type

    def fingerprint(self) -> dict[str, str]:
        return {**super().fingerprint(), "compute_type": self.compute_type}

    def _load(self, path: Path) -> tuple[Any, Any]:
        try:
            import ctranslate2
            from transformers import AutoTokenizer
        except ImportError as exc:
            raise registry.unavailable(NAME, f"ctranslate2 or transformers is missing ({exc})") from None
        if not (path / "model.bin").is_file():
            raise BackendUnavailable(NAME, f"{path} is not a CTranslate2 model (no model.bin); convert it first")
        device = "cuda" if torch_device(self.device, NAME).startswith("cuda") else "cpu"
        try:
            tokenizer = AutoTokenizer.from_pretrained(path)
            translator = ctranslate2.Translator(str(path), device=device, compute_type=self.compute_type)
        except (OSError, ValueError, RuntimeError) as exc:
            raise BackendUnavailable(NAME, f"cannot load {self.model} from {path} ({one_line(exc)})") from None
        return tokenizer, translator

    def generate(self, texts: list[str], source: str, target: str) -> list[str]:
        assert self._loaded is not None
        tokenizer, translator = self._loaded
        kind = self.family().kind
        if kind == MARIAN and target.startswith(">>"):
            texts = [f"{target} {t}" for t in texts]
        if kind != MARIAN:
            tokenizer.src_lang = source
        tokens = [tokenizer.convert_ids_to_tokens(tokenizer(t, truncation=True).input_ids) for t in texts]
        prefix = None if kind == MARIAN else [[token(kind, target)]] * len(texts)
        try:
            results = translator.translate_batch(
                tokens,
                target_prefix=prefix,
                beam_size=self.beam_size,
                max_batch_size=self.batch_size,
                max_decoding_length=2 * max(len(t) for t in tokens) + 16,
            )
        except RuntimeError as exc:
            raise StageFailed(f"{NAME} {self.model}: generation failed ({one_line(exc)})") from None
        hypotheses = [r.hypotheses[0][0 if prefix is None else 1 :] for r in results]
        return [tokenizer.decode(tokenizer.convert_tokens_to_ids(h), skip_special_tokens=True) for h in hypotheses]
