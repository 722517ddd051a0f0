"""Translate backend: neural MT through Hugging Face transformers — Marian (opus-mt-*), NLLB-200, M2M100.

Models, language codes, batching and the glossary are `dubkit.backends._transformers`'; here the network is
loaded and run. Weights load from safetensors when present (transformers loads `.bin` files with
`torch.load(weights_only=True)`). Generation runs on the GPU when there is one.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from dubkit.backends import registry
from dubkit.backends._torch import torch_device
from dubkit.backends._transformers import M2M100, MARIAN, NLLB, Seq2SeqTranslator, token
from dubkit.errors import BackendUnavailable, StageFailed, one_line

log = logging.getLogger(__name__)

NAME = "mt/transformers"


class TransformersTranslator(Seq2SeqTranslator):
    """Marian / NLLB / M2M100 translation; `pair` ("en-es") names a Marian model's pair when its name does not."""

    name = NAME
    engine = "transformers"

    def generate(self, texts: list[str], source: str, target: str) -> list[str]:
        import torch

        assert self._loaded is not None
        tokenizer, network = self._loaded
        kind = self.family().kind
        if kind == MARIAN and target.startswith(">>"):
            texts = [f"{target} {t}" for t in texts]
        if kind in (M2M100, NLLB):
            tokenizer.src_lang = source
        batch = tokenizer(texts, return_tensors="pt", padding=True, truncation=True).to(network.device)
        extra = {} if kind == MARIAN else {"forced_bos_token_id": tokenizer.convert_tokens_to_ids(token(kind, target))}
        longest = int(batch["input_ids"].shape[1])
        try:
            with torch.inference_mode():
                ids = network.generate(**batch, num_beams=self.beam_size, max_new_tokens=2 * longest + 16, **extra)
        except RuntimeError as exc:  # out of memory, a broken model
            raise StageFailed(f"{NAME} {self.model}: generation failed ({one_line(exc)})") from None
        texts = tokenizer.batch_decode(ids, skip_special_tokens=True)
        return [re.sub(r"__[a-z]{2,3}__", "", t) for t in texts] if kind == M2M100 else texts

    def _load(self, path: Path) -> tuple[Any, Any]:
        try:
            from transformers import AutoModelForSeq2SeqLM, AutoTokenizer
        except ImportError as exc:
            raise registry.unavailable(NAME, f"transformers is not installed ({exc})") from None
        device = torch_device(self.device, NAME)
        safetensors = any(path.glob("*.safetensors"))
        try:
            tokenizer = AutoTokenizer.from_pretrained(path)
            network = AutoModelForSeq2SeqLM.from_pretrained(path, use_safetensors=safetensors or None)
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            raise BackendUnavailable(NAME, f"cannot load {self.model} from {path} ({one_line(exc)})") from None
        return tokenizer, network.to(device).eval()
