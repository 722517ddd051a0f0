"""Round-trip intelligibility: dub the FLEURS English clips to es and pt-BR, re-transcribe the dubbed
audio with the target language forced, and score it against the script's translations (WER).

    .venv/bin/python benchmarks/roundtrip.py [--media ../shared/media] [--languages es,pt-BR] [--clips 10]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dubkit import media  # noqa: E402
from dubkit.backends.asr_faster_whisper import FasterWhisperTranscriber  # noqa: E402
from dubkit.cache import Cache  # noqa: E402
from dubkit.job import Episode  # noqa: E402
from dubkit.qa.wer import word_error_rate  # noqa: E402
from dubkit.runner import dub  # noqa: E402


def round_trip(clip: Path, language: str, work: Path, cache: Cache, asr: FasterWhisperTranscriber) -> dict:
    result = dub(Episode(clip, language, "en"), cache=cache, outdir=work)
    script = result.job.script
    reference = " ".join(s.translation for s in script.segments)
    speech = work / f"{clip.stem}.{language}.16k.wav"
    media.extract_audio(Path(result.outputs["video"]), speech, rate=16000, channels=1)
    heard = " ".join(s.text for s in asr.transcribe(speech, language).segments)
    return {
        "clip": clip.name,
        "wer": word_error_rate(reference, heard, language),
        "reference": reference,
        "heard": heard,
        "overflow": result.summary()["lines"]["overflow"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--media", type=Path, default=REPO.parent / "shared" / "media")
    parser.add_argument("--languages", default="es,pt-BR")
    parser.add_argument("--clips", type=int, default=10)
    parser.add_argument("--cache-dir", type=Path, default=None)
    parser.add_argument("--verbose", action="store_true", help="print each clip's reference and what was heard")
    args = parser.parse_args()
    clips = sorted((args.media / "audio" / "fleurs").glob("fleurs-en-*.ogg"))[: args.clips]
    asr = FasterWhisperTranscriber()
    report: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        cache = Cache(args.cache_dir or Path(tmp) / "cache")
        for language in args.languages.split(","):
            started = time.perf_counter()
            rows = [round_trip(clip, language, Path(tmp), cache, asr) for clip in clips]
            for row in rows:
                print(f"{language:6} {row['clip']:20} WER {row['wer']:6.1%}  overflow {row['overflow']}")
                if args.verbose:
                    print(f"   script: {row['reference']}\n   heard:  {row['heard']}")
            mean = sum(r["wer"] for r in rows) / len(rows)
            report[language] = {
                "mean_wer": round(mean, 4),
                "clips": len(rows),
                "seconds": round(time.perf_counter() - started, 1),
            }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
