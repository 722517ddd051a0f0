"""Studio MT: transformers (Marian, M2M100, NLLB) and CTranslate2, on tiny random models built here."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from dubkit.backends import _transformers as mt
from dubkit.backends.base import TranslationRequest
from dubkit.backends.mt_transformers import TransformersTranslator
from dubkit.errors import BackendUnavailable

NLLB_CODES = ("arb_Arab", "eng_Latn", "por_Latn", "spa_Latn", "zho_Hans", "zho_Hant")


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # an empty Hugging Face cache
    monkeypatch.setenv("DUBKIT_MODELS_DIR", str(tmp_path / "models"))


@pytest.mark.parametrize(
    ("tag", "code"),
    [("pt-BR", "por_Latn"), ("zh", "zho_Hans"), ("zh-Hant", "zho_Hant"), ("zh-TW", "zho_Hant"), ("ar", "arb_Arab")],
)
def test_bcp47_to_nllb_codes(tag, code):
    family = mt.Family(mt.NLLB, NLLB_CODES, NLLB_CODES)
    assert mt.model_code(family, tag, sources=False) == code


def test_bcp47_to_marian_and_m2m_codes():
    multi = mt.Family(mt.MARIAN, ("en",), ("fra", "por", "spa"), prefixed=True)
    assert mt.model_code(multi, "pt-BR", sources=False) == ">>por<<"
    assert mt.model_code(multi, "en-US", sources=True) == "en"
    assert mt.model_code(multi, "de", sources=False) is None
    single = mt.Family(mt.MARIAN, ("*",), ("es",))
    assert mt.model_code(single, "it", sources=True) == "it"
    assert mt.model_code(single, "es-MX", sources=False) == "es"
    m2m = mt.Family(mt.M2M100, ("en", "pt", "zh"), ("en", "pt", "zh"))
    assert mt.model_code(m2m, "zh-Hans", sources=False) == "zh"


def test_glossary_terms_are_put_in_their_target_form_and_checked():
    glossary = {"Acme Corp": "Acme Corp", "the Hub": "El Hub"}
    protected = mt.protect("Call acme corp from the hub. Not the Hubble.", glossary)
    assert protected == "Call Acme Corp from El Hub. Not the Hubble."
    assert mt.missing_terms(protected, "Llama a Acme Corp desde el hub.", glossary) == []
    assert mt.missing_terms(protected, "Llama a la empresa desde el centro.", glossary) == ["Acme Corp", "El Hub"]


def test_uncached_hub_model_offline_is_a_clear_error():
    pytest.importorskip("huggingface_hub", reason="huggingface_hub is not installed")
    with pytest.raises(BackendUnavailable) as error:
        mt.resolve("Helsinki-NLP/opus-mt-en-fr")
    message = str(error.value)
    assert "Helsinki-NLP/opus-mt-en-fr" in message and "hf download" in message and "\n" not in message


def test_directory_without_config_is_rejected(tmp_path):
    with pytest.raises(BackendUnavailable, match="no config.json"):
        mt.resolve(str(tmp_path))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    pytest.importorskip("torch", reason="torch is not installed (pip install 'dubkit[transformers]')")
    pytest.importorskip("transformers", reason="transformers is not installed (pip install 'dubkit[transformers]')")
    pytest.importorskip("sentencepiece", reason="sentencepiece is not installed")
    from tests import tiny_models

    root = tmp_path_factory.mktemp("mt")
    return {name: getattr(tiny_models, name)(root / name) for name in ("marian", "m2m100", "nllb")}


LINES = ("Hello, how are you today?", "", "The weather is nice in the park.")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "source", "target", "codes"),
    [
        ("marian", "en", "es", ("en", "es")),
        ("m2m100", "en-GB", "pt-BR", ("en", "pt")),
        ("nllb", "en", "zh-Hant", ("eng_Latn", "zho_Hant")),
    ],
)
def test_each_family_translates_by_local_path(tiny, name, source, target, codes):
    backend = TransformersTranslator(str(tiny[name]), beam_size=2, batch_size=2)
    assert backend.supports(source, target)
    assert backend.supports(source, "fr") == (name != "marian")  # a Marian model knows one pair
    assert backend.codes(source, target) == codes
    out = backend.translate(TranslationRequest(LINES, source, target))
    assert len(out) == 3 and out[1] == ""  # one output per line, empty stays empty
    assert all(isinstance(text, str) for text in out)
    assert "model.safetensors:sha256:" in backend.fingerprint()["weights"]


@pytest.mark.slow
def test_fingerprint_follows_weights_and_options(tiny, tmp_path):
    import torch
    from transformers import AutoModelForSeq2SeqLM

    base = TransformersTranslator(str(tiny["marian"]))
    assert base.fingerprint() == TransformersTranslator(str(tiny["marian"])).fingerprint()
    assert base.fingerprint() != TransformersTranslator(str(tiny["marian"]), beam_size=1).fingerprint()
    changed = tmp_path / "marian"
    shutil.copytree(tiny["marian"], changed)
    network = AutoModelForSeq2SeqLM.from_pretrained(changed)
    with torch.no_grad():
        next(network.parameters()).add_(1.0)
    network.save_pretrained(changed)
    assert TransformersTranslator(str(changed)).fingerprint()["weights"] != base.fingerprint()["weights"]


@pytest.mark.slow
def test_translate_stage_caches_by_backend_fingerprint(tiny, tmp_path):
    from dubkit.cache import Cache
    from dubkit.config import load_preset
    from dubkit.job import Artefact, Episode, Job
    from dubkit.script import Segment, Transcript
    from dubkit.stages import transcribe, translate
    from dubkit.stages.base import Backends, Context

    preset = tmp_path / "p.toml"
    preset.write_text(
        f'[translate]\nbackends = ["transformers"]\n[translate.options.transformers]\nmodel = "{tiny["marian"]}"\n'
        "beam_size = 1\n"
    )
    entry = tmp_path / "transcribe"
    entry.mkdir()
    segments = tuple(Segment(f"L{i}", i * 1000, i * 1000 + 900, text) for i, text in enumerate(LINES, 1) if text)
    transcribe.save(entry / "transcript.json", Transcript("en", segments))
    artefacts = {
        "ingest": Artefact("i" * 64, tmp_path, True),
        "transcribe": Artefact("t" * 64, entry, True),
    }
    job = Job(Episode(tmp_path / "x.mp4", "es", "en"), artefacts)
    ctx = Context(Cache(tmp_path / "cache"), load_preset(str(preset)), Backends())
    first = translate.run(job, ctx)
    second = translate.run(job, ctx)
    assert not first.artefacts["translate"].cached and second.artefacts["translate"].cached
    assert [s.id for s in second.script.segments] == ["L1", "L3"]
    assert second.script.target_language == "es"


@pytest.mark.slow
def test_ctranslate2_matches_transformers_at_equal_weights(tiny, tmp_path):
    pytest.importorskip("ctranslate2", reason="ctranslate2 is not installed")
    from ctranslate2.converters import TransformersConverter

    from dubkit.backends.mt_ctranslate2 import CTranslate2Translator

    converted = tmp_path / "nllb-ct2"
    TransformersConverter(str(tiny["nllb"]), copy_files=["tokenizer.json", "tokenizer_config.json"]).convert(
        str(converted)
    )
    request = TranslationRequest(LINES, "en", "pt-BR")
    reference = TransformersTranslator(str(tiny["nllb"]), beam_size=1).translate(request)
    fast = CTranslate2Translator(str(converted), beam_size=1)
    assert fast.translate(request) == reference
    assert "model.bin:sha256:" in fast.fingerprint()["weights"]
    assert fast.fingerprint()["options"] != TransformersTranslator(str(tiny["nllb"])).fingerprint()["options"]


def test_ctranslate2_needs_a_converted_model(tmp_path):
    pytest.importorskip("ctranslate2", reason="ctranslate2 is not installed")
    pytest.importorskip("transformers", reason="transformers is not installed")
    from dubkit.backends.mt_ctranslate2 import CTranslate2Translator

    (tmp_path / "config.json").write_text('{"model_type": "marian"}')
    with pytest.raises(BackendUnavailable, match="no model.bin"):
        CTranslate2Translator(str(tmp_path))._load(Path(tmp_path))
