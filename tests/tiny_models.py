"""Tiny random-weight models, built and saved in a test's tmp directory, for the studio backends.

Each builder imports its library inside the function, so importing this module is free. The models
are real library models (real configs, real tokenizers, real save/load code) with a few thousand
parameters: their output is gibberish but has the right shapes, languages and timing.
"""

from __future__ import annotations

import json
import string
from pathlib import Path

CORPUS = [
    "Hello, how are you today?",
    "I am fine, thank you very much.",
    "The weather is nice in the park.",
    "Hola, ¿cómo estás hoy?",
    "Estoy bien, muchas gracias.",
    "Hace buen tiempo en el parque.",
    "Olá, como você está hoje?",
    "Bonjour, comment allez-vous aujourd'hui ?",
]


def _shape(layers: int, width: int) -> dict[str, int]:
    """Transformer sizes: 1 layer of width 16 by default; (6, 512) is the size of opus-mt models."""
    heads = max(2, width // 64)
    return {
        "encoder_layers": layers,
        "decoder_layers": layers,
        "encoder_attention_heads": heads,
        "decoder_attention_heads": heads,
        "d_model": width,
        "encoder_ffn_dim": 4 * width,
        "decoder_ffn_dim": 4 * width,
        "max_position_embeddings": 256,
    }


def sentencepiece(directory: Path, name: str = "spm", vocab_size: int = 120) -> Path:
    """A unigram SentencePiece model trained on CORPUS (characters fully covered)."""
    import sentencepiece as spm

    directory.mkdir(parents=True, exist_ok=True)
    prefix = directory / name
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(CORPUS * 4),
        model_prefix=str(prefix),
        vocab_size=vocab_size,
        character_coverage=1.0,
        hard_vocab_limit=False,
        bos_id=-1,
        eos_id=1,
        unk_id=2,
        pad_id=0,
        minloglevel=2,
    )
    return prefix.with_suffix(".model")


def _pieces(model: Path) -> list[str]:
    import sentencepiece as spm

    processor = spm.SentencePieceProcessor(model_file=str(model))
    return [processor.id_to_piece(i) for i in range(processor.get_piece_size())]


def marian(directory: Path, source: str = "en", target: str = "es", layers: int = 1, width: int = 16) -> Path:
    """A Marian (opus-mt style) model for one pair: source.spm/target.spm, vocab.json, safetensors weights."""
    import torch
    from transformers import MarianConfig, MarianMTModel, MarianTokenizer

    spm_path = sentencepiece(directory / "spm")
    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2}
    for piece in _pieces(spm_path):
        vocab.setdefault(piece, len(vocab))
    (directory / "vocab.json").write_text(json.dumps(vocab))
    for side in ("source", "target"):
        (directory / f"{side}.spm").write_bytes(spm_path.read_bytes())
    tokenizer = MarianTokenizer(
        source_spm=str(directory / "source.spm"),
        target_spm=str(directory / "target.spm"),
        vocab=str(directory / "vocab.json"),
        source_lang=source,
        target_lang=target,
    )
    config = MarianConfig(
        vocab_size=len(tokenizer),
        decoder_vocab_size=len(tokenizer),
        pad_token_id=0,
        eos_token_id=1,
        decoder_start_token_id=0,
        forced_eos_token_id=1,
        **_shape(layers, width),
    )
    torch.manual_seed(0)
    MarianMTModel(config).eval().save_pretrained(directory, safe_serialization=True)
    tokenizer.save_pretrained(directory)
    return directory


def m2m100(directory: Path, layers: int = 1, width: int = 16) -> Path:
    """An M2M100 model (100 languages, `__xx__` tokens) with a tiny SentencePiece vocabulary."""
    import torch
    from transformers import M2M100Config, M2M100ForConditionalGeneration, M2M100Tokenizer

    spm_path = sentencepiece(directory / "spm")
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for piece in _pieces(spm_path):
        vocab.setdefault(piece, len(vocab))
    (directory / "vocab.json").write_text(json.dumps(vocab))
    (directory / "sentencepiece.bpe.model").write_bytes(spm_path.read_bytes())
    tokenizer = M2M100Tokenizer(
        vocab_file=str(directory / "vocab.json"), spm_file=str(directory / "sentencepiece.bpe.model")
    )
    languages = tokenizer.lang_code_to_id.values()
    config = M2M100Config(
        vocab_size=max(len(tokenizer), max(languages) + 1),
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        decoder_start_token_id=2,
        **_shape(layers, width),
    )
    torch.manual_seed(0)
    M2M100ForConditionalGeneration(config).eval().save_pretrained(directory, safe_serialization=True)
    tokenizer.save_pretrained(directory)
    return directory


def nllb(directory: Path, layers: int = 1, width: int = 16) -> Path:
    """An NLLB-200-style model: the M2M100 architecture with NLLB's tokenizer (`eng_Latn` codes)."""
    import torch
    from transformers import M2M100Config, M2M100ForConditionalGeneration, NllbTokenizer

    directory.mkdir(parents=True, exist_ok=True)
    specials = ["<s>", "<pad>", "</s>", "<unk>"]
    letters = sorted(set("".join(CORPUS)) | set(string.ascii_letters) | {"▁"})
    vocab = {token: index for index, token in enumerate(specials + letters)}
    tokenizer = NllbTokenizer(vocab=vocab, merges=[])
    tokenizer.save_pretrained(directory)
    config = M2M100Config(
        vocab_size=len(tokenizer),
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        decoder_start_token_id=2,
        **_shape(layers, width),
    )
    torch.manual_seed(0)
    M2M100ForConditionalGeneration(config).eval().save_pretrained(directory, safe_serialization=True)
    return directory


def whisper_checkpoint(path: Path, seed: int = 0) -> Path:
    """A multilingual Whisper with 1 layer of width 64 each side, saved the way openai-whisper saves it."""
    import torch
    from whisper.model import ModelDimensions, Whisper
    from whisper.tokenizer import get_tokenizer

    dims = ModelDimensions(
        n_mels=80,
        n_audio_ctx=1500,
        n_audio_state=64,
        n_audio_head=2,
        n_audio_layer=1,
        n_vocab=51865,
        n_text_ctx=448,
        n_text_state=64,
        n_text_head=2,
        n_text_layer=1,
    )
    torch.manual_seed(seed)
    model = Whisper(dims)
    # Random weights may end a window at once, call it silence, or decode nothing but timestamps (then a stage
    # finds no speech): give end-of-text, no-speech and the 1,501 timestamp tokens logit 0, far below the best
    # of the ~50,000 random text logits, so every window decodes text (its first timestamp is still forced).
    tokenizer = get_tokenizer(multilingual=True)
    silenced = [tokenizer.eot, tokenizer.no_speech, *range(tokenizer.timestamp_begin, dims.n_vocab)]
    with torch.no_grad():
        model.decoder.positional_embedding.normal_(std=0.02)  # torch.empty in the library: left uninitialized
        model.decoder.token_embedding.weight[silenced] = 0.0
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"dims": dims.__dict__, "model_state_dict": model.state_dict()}, path)
    return path


XTTS_LANGUAGES = ["en", "es", "pt", "fr", "de", "it"]


def xtts(directory: Path, seed: int = 0, max_audio_tokens: int = 24) -> Path:
    """An XTTS-v2-shaped model: 1-layer GPT of width 32 and a character vocabulary.

    The HiFi-GAN decoder and speaker encoder have fixed sizes in the library (22 M parameters, 90 MB):
    only the GPT can be made tiny. `max_audio_tokens` bounds generation (1024 samples at 22.05 kHz each).
    """
    import tokenizers
    import torch
    from TTS.tts.configs.xtts_config import XttsArgs, XttsConfig
    from TTS.tts.layers.xtts.tokenizer import VoiceBpeTokenizer
    from TTS.tts.models.xtts import Xtts

    directory.mkdir(parents=True, exist_ok=True)
    specials = ["[STOP]", "[UNK]", "[SPACE]", "[START]", "[zh-cn]"] + [f"[{code}]" for code in XTTS_LANGUAGES]
    letters = sorted(set("".join(CORPUS).lower()) - {" "} | set(string.ascii_lowercase + string.digits))
    vocab = {token: index for index, token in enumerate(specials + letters)}
    bpe = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    bpe.pre_tokenizer = tokenizers.pre_tokenizers.Split(tokenizers.Regex(r"\[[a-zA-Z-]+\]|."), "isolated")
    bpe.save(str(directory / "vocab.json"))
    args = XttsArgs(
        gpt_layers=1,
        gpt_n_model_channels=32,
        gpt_n_heads=2,
        gpt_num_audio_tokens=34,
        gpt_start_audio_token=32,
        gpt_stop_audio_token=33,
        gpt_max_audio_tokens=max_audio_tokens,
        gpt_max_text_tokens=200,
        decoder_input_dim=32,
        gpt_use_perceiver_resampler=True,
    )
    config = XttsConfig(model_args=args, languages=XTTS_LANGUAGES)
    torch.manual_seed(seed)
    model = Xtts(config)
    model.tokenizer = VoiceBpeTokenizer(str(directory / "vocab.json"))
    model.init_models()
    torch.save({"model": model.state_dict()}, directory / "model.pth")
    config.save_json(str(directory / "config.json"))
    return directory
