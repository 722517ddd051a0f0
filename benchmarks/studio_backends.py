"""Studio backends at equal weights on this machine: openai-whisper vs faster-whisper, transformers vs CTranslate2.

ASR: the bundled Whisper base (CTranslate2, float16 on disk) run by faster-whisper (float32 and int8)
and, converted in memory, by openai-whisper (float32), on the same real clips, greedy, language forced.
MT: the same random-weight models run by transformers and by CTranslate2 (converted), every output forced
to the same length, so only the engines differ; CTranslate2 int8 (quantized weights)
for reference. Two sizes: tiny (1 layer, width 16) and opus-mt size
(6 layers, width 512). Prints a table and the ratios; `--json` for machines.

    python benchmarks/studio_backends.py [--threads 2] [--lines 64] [--tokens 32]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CLIPS = [
    Path("/usr/share/pocketsphinx/test/data/librivox") / f"sense_and_sensibility_01_austen_64kb-{n}.wav"
    for n in ("0870", "0880", "0890")
]
REPEATS = 5
JFK = ROOT.parent / "shared" / "media" / "audio" / "jfk" / "jfk.flac"


def _audio() -> list[np.ndarray]:
    import soundfile

    from dubkit.audio import resample, to_mono

    clips = []
    for path in [*CLIPS, JFK]:
        if path.is_file():
            samples, rate = soundfile.read(str(path), dtype="float32")
            clips.append(resample(to_mono(samples), rate, 16000).astype(np.float32))
    if not clips:
        sys.exit("no clips found (apt-get install pocketsphinx-testdata)")
    return clips


def bench_asr(threads: int) -> dict[str, float]:
    from dubkit.backends.asr_faster_whisper import FasterWhisperTranscriber
    from dubkit.backends.asr_whisper import WhisperTranscriber

    clips = _audio()
    seconds = sum(len(c) for c in clips) / 16000
    engines = {
        "faster-whisper int8": FasterWhisperTranscriber(beam_size=1, vad=False, cpu_threads=threads),
        "faster-whisper float32": FasterWhisperTranscriber(
            beam_size=1, vad=False, compute_type="float32", cpu_threads=threads
        ),
        "openai-whisper float32": WhisperTranscriber(beam_size=1, threads=threads),
    }
    result: dict[str, float] = {"audio_s": round(seconds, 1)}
    texts: dict[str, str] = {}
    for name, engine in engines.items():
        engine.load()
        engine.transcribe(clips[0][:16000], "en")  # warm-up
        start = time.perf_counter()
        texts[name] = " ".join(s.text for c in clips for s in engine.transcribe(c, "en").segments)
        result[f"{name} RTF"] = round((time.perf_counter() - start) / seconds, 3)
        engine.close()
    result["same text (openai vs faster float32)"] = float(
        texts["openai-whisper float32"] == texts["faster-whisper float32"]
    )
    return result


def bench_mt(threads: int, lines: int, tokens: int, layers: int, width: int) -> dict[str, float]:
    import ctranslate2
    import torch
    from ctranslate2.converters import TransformersConverter
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    from tests import tiny_models

    torch.set_num_threads(threads)
    texts = [tiny_models.CORPUS[i % len(tiny_models.CORPUS)] for i in range(lines)]
    with tempfile.TemporaryDirectory() as tmp:
        hf_dir = tiny_models.nllb(Path(tmp) / "nllb", layers=layers, width=width)
        ct2_dir = Path(tmp) / "ct2"
        TransformersConverter(str(hf_dir)).convert(str(ct2_dir))
        tokenizer = AutoTokenizer.from_pretrained(hf_dir)
        tokenizer.src_lang = "eng_Latn"
        network = AutoModelForSeq2SeqLM.from_pretrained(hf_dir).eval()
        translators = {
            compute: ctranslate2.Translator(str(ct2_dir), device="cpu", compute_type=compute, intra_threads=threads)
            for compute in ("default", "int8")
        }
        target = tokenizer.convert_tokens_to_ids("spa_Latn")
        sources = [tokenizer.convert_ids_to_tokens(tokenizer(t).input_ids) for t in texts]

        def run_hf() -> int:
            batch = tokenizer(texts, return_tensors="pt", padding=True)
            with torch.inference_mode():
                out = network.generate(
                    **batch, num_beams=1, forced_bos_token_id=target, min_new_tokens=tokens, max_new_tokens=tokens
                )
            return int(out.shape[1])

        def run_ct2(compute: str = "default") -> int:
            out = translators[compute].translate_batch(
                sources,
                target_prefix=[["spa_Latn"]] * len(sources),  # the forced first token, as on the transformers side
                beam_size=1,
                min_decoding_length=tokens,
                max_decoding_length=tokens,
                max_batch_size=len(sources),
            )
            return len(out[0].hypotheses[0])

        result = {"params_M": round(sum(p.numel() for p in network.parameters()) / 1e6, 2)}
        engines = (("transformers", run_hf), ("ctranslate2", run_ct2), ("ctranslate2 int8", lambda: run_ct2("int8")))
        for name, run in engines:
            length = run()  # warm-up
            result[f"{name} s (best of {REPEATS})"] = round(min(_timed(run) for _ in range(REPEATS)), 4)
            result[f"{name} output positions"] = length
    return result


def _timed(run: object) -> float:
    start = time.perf_counter()
    run()  # type: ignore[operator]
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--lines", type=int, default=64)
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--skip-asr", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    report: dict[str, dict[str, float]] = {}
    if not args.skip_asr:
        report["asr"] = bench_asr(args.threads)
        asr = report["asr"]
        asr["ratio openai/faster float32"] = round(
            asr["openai-whisper float32 RTF"] / asr["faster-whisper float32 RTF"], 2
        )
        asr["ratio openai/faster int8"] = round(asr["openai-whisper float32 RTF"] / asr["faster-whisper int8 RTF"], 2)
    for label, layers, width in (("mt tiny (1 layer, width 16)", 1, 16), ("mt opus-mt size (6 layers, 512)", 6, 512)):
        mt = bench_mt(args.threads, args.lines, args.tokens, layers, width)
        hf, ct2, ct2_int8 = (
            mt[f"{name} s (best of {REPEATS})"] for name in ("transformers", "ctranslate2", "ctranslate2 int8")
        )
        mt["ratio transformers/ctranslate2 (equal weights)"] = round(hf / ct2, 2)
        mt["ratio transformers/ctranslate2 int8 (quantized)"] = round(hf / ct2_int8, 2)
        report[label] = mt
    if args.json:
        print(json.dumps(report, indent=2))
        return
    for section, rows in report.items():
        print(f"== {section}")
        for key, value in rows.items():
            print(f"  {key:<40} {value}")


if __name__ == "__main__":
    main()
