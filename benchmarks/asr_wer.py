"""Benchmark: WER and real-time factor of the faster-whisper backend on JFK and the FLEURS English clips.

python benchmarks/asr_wer.py [--media DIR] [--model embedded:base]
"""

from __future__ import annotations

import argparse
import csv
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dubkit.audio import write_wav  # noqa: E402
from dubkit.backends.asr_faster_whisper import FasterWhisperTranscriber  # noqa: E402
from dubkit.qa.wer import word_error_rate  # noqa: E402

RATE = 16_000


def decode(path: Path) -> np.ndarray:
    """Any audio file → 16 kHz mono float32, with PyAV (benchmark only; dubkit itself goes through dubkit.media)."""
    import av

    chunks = []
    with av.open(str(path)) as container:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=RATE)
        for frame in container.decode(audio=0):
            chunks.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(frame))
        chunks.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(None))
    return np.concatenate(chunks).astype(np.float32)


def cases(media: Path) -> list[tuple[str, Path, str]]:
    """(name, audio, reference) for jfk and every FLEURS English clip in the manifest."""
    jfk = media / "audio" / "jfk"
    with open(jfk / "transcript.tsv", encoding="utf-8") as handle:
        rows = {row["file"]: row["transcript"] for row in csv.DictReader(handle, delimiter="\t")}
    out = [("jfk", jfk / "jfk.flac", rows["jfk.flac"])]
    fleurs = media / "audio" / "fleurs"
    with open(fleurs / "manifest.tsv", encoding="utf-8") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            if row["lang"] == "en":
                out.append((row["audio"].removesuffix(".ogg"), fleurs / row["audio"], row["flores_raw_same_lang"]))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--media", type=Path, default=REPO.parent / "shared" / "media", help="shared media directory")
    parser.add_argument("--model", default="embedded:base", help="FasterWhisperTranscriber model")
    parser.add_argument("--beam-size", type=int, default=5)
    args = parser.parse_args()
    if not (args.media / "audio").is_dir():
        parser.error(f"no audio/ under {args.media}")

    transcriber = FasterWhisperTranscriber(model=args.model, beam_size=args.beam_size)
    started = time.perf_counter()
    transcriber.load()
    print(f"model {args.model}: loaded in {time.perf_counter() - started:.2f} s")

    audio_s = compute_s = 0.0
    fleurs_wers: list[float] = []
    jfk_wer = float("nan")
    scratch = Path(tempfile.mkdtemp(prefix="asr_wer."))
    for name, path, reference in cases(args.media):
        samples = decode(path)
        wav = scratch / f"{name}.wav"
        write_wav(wav, samples, RATE)
        started = time.perf_counter()
        transcript = transcriber.transcribe(wav, language="en")
        elapsed = time.perf_counter() - started
        audio_s, compute_s = audio_s + len(samples) / RATE, compute_s + elapsed
        hypothesis = " ".join(s.text for s in transcript.segments)
        wer = word_error_rate(reference, hypothesis, "en")
        print(f"{name:16s} WER {wer:6.1%}  RTF {elapsed / (len(samples) / RATE):.3f}  | {hypothesis}")
        if name == "jfk":
            jfk_wer = wer
        else:
            fleurs_wers.append(wer)

    shutil.rmtree(scratch, ignore_errors=True)
    fleurs_mean = statistics.fmean(fleurs_wers) if fleurs_wers else float("nan")
    print(f"\nWER jfk: {jfk_wer:.1%}")
    print(f"WER FLEURS en mean ({len(fleurs_wers)} clips): {fleurs_mean:.1%}")
    print(f"real-time factor: {compute_s / audio_s:.3f} ({compute_s:.1f} s for {audio_s:.1f} s of audio)")
    return 0 if jfk_wer <= 0.10 and fleurs_mean <= 0.10 else 1


if __name__ == "__main__":
    raise SystemExit(main())
