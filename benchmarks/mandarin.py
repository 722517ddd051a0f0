"""Real Mandarin speech through dubkit: how well Whisper base hears it, and whether zh → en, es, pt-BR dubs complete.

Per clip (the f5-tts wheel's read Mandarin, plus every WAV in `--clips DIR` with its reference in DIR/text, a Kaldi
`text` file: "<name> <transcript>", words may be spaced): the transcribe stage's transcript (embedded faster-whisper
base, source given as zh), its character error rate against the reference (both Simplified, punctuation and spaces
removed; jiwer), whether it came out in Simplified script, and the line boundaries that fall inside a jieba word.
Then `dubkit translate` of the f5 clip into en, es and pt-BR (the Python API, a shared cache in a temporary folder):
completed or the error, lines, lines with no translation, each line's route and its dubbed text.

    .venv/bin/python benchmarks/mandarin.py [--clips DIR] [--targets en es pt-BR] [--json]
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

from dubkit import runner  # noqa: E402
from dubkit.cache import Cache  # noqa: E402
from dubkit.errors import describe  # noqa: E402
from dubkit.job import Episode  # noqa: E402
from dubkit.stages import transcribe  # noqa: E402
from tests.mandarin_clips import F5_ZH_TEXT, bare, character_error, cuts_inside_words, f5_clip, is_simplified  # noqa: E402


def clips(folder: Path | None) -> list[tuple[str, Path, str]]:
    """(name, audio, reference): the f5 clip when f5-tts is installed, then *folder*'s WAVs named in its `text`."""
    found = []
    f5 = f5_clip()
    if f5 is not None:
        found.append(("f5-tts basic_ref_zh", f5, F5_ZH_TEXT))
    if folder is not None:
        if not (folder / "text").is_file():
            raise SystemExit(f"{folder}: no `text` file of references (Kaldi style: <name> <transcript>)")
        rows = (folder / "text").read_text(encoding="utf-8").splitlines()
        references = dict(row.split(maxsplit=1) for row in rows if len(row.split(maxsplit=1)) == 2)
        for name, reference in sorted(references.items()):
            if (folder / f"{name}.wav").is_file():
                found.append((name, folder / f"{name}.wav", reference))
    return found


def measure_transcript(name: str, audio: Path, reference: str, cache: Cache, out: Path) -> dict:
    started = time.perf_counter()
    result = runner.dub(Episode(audio, "en", "zh"), cache=cache, outdir=out, until="transcribe")
    seconds = time.perf_counter() - started
    lines = [s.text for s in transcribe.load(result.job.entry("transcribe") / "transcript.json").segments]
    text = "".join(lines)
    return {
        "clip": name,
        "audio_s": round(result.job.duration_s or 0.0, 2),
        "reference": reference,
        "transcript": " | ".join(lines),
        "cer": round(character_error(reference, text), 4),
        "reference_chars": len(bare(reference)),
        "simplified": is_simplified(text),
        "cuts_inside_words": cuts_inside_words(lines),
        "seconds": round(seconds, 1),
    }


def measure_dub(audio: Path, target: str, cache: Cache, out: Path) -> dict:
    started = time.perf_counter()
    try:
        result = runner.dub(Episode(audio, target, "zh"), cache=cache, outdir=out)
    except Exception as exc:  # noqa: BLE001 - a failed dub is a figure here, reported in one line
        return {"target": target, "completed": False, "error": describe(exc)}
    script = result.job.script
    assert script is not None
    empty = [s.id for s in script.segments if not any(char.isalnum() for char in s.translation)]
    return {
        "target": target,
        "completed": True,
        "lines": len(script.segments),
        "empty_lines": len(empty),
        "routes": sorted({_legs(s.route) for s in script.segments}),
        "dubbed": [
            {"id": s.id, "text": s.text, "route": s.route, "translation": s.translation} for s in script.segments
        ],
        "seconds": round(time.perf_counter() - started, 1),
    }


def _legs(route: str) -> str:
    """The route's engines alone, without the text handed between them."""
    return " ".join(part for part in route.split(" ") if "→" in part and not part.startswith('"'))


def pooled_cer(transcripts: list[dict]) -> float:
    """The error rate over all clips together: each clip's errors weighed by its length."""
    characters = sum(row["reference_chars"] for row in transcripts)
    return sum(row["cer"] * row["reference_chars"] for row in transcripts) / characters if characters else 0.0


def show(transcripts: list[dict], dubs: list[dict]) -> None:
    print(f"{'clip':42} {'s':>5} {'CER':>6} simplified cuts-in-word")
    for row in transcripts:
        cuts = ", ".join(row["cuts_inside_words"]) or "none"
        print(f"{row['clip']:42} {row['audio_s']:5.1f} {row['cer']:6.1%} {row['simplified']!s:10} {cuts}")
        print(f"    ref: {row['reference']}\n    asr: {row['transcript']}")
    print(f"all clips: CER {pooled_cer(transcripts):.1%} (errors over all reference characters)")
    for dub in dubs:
        if not dub["completed"]:
            print(f"\nzh → {dub['target']}: FAILED: {dub['error']}")
            continue
        routes = "; ".join(dub["routes"])
        counts = f"{dub['lines']} lines, {dub['empty_lines']} empty, {dub['seconds']} s"
        print(f"\nzh → {dub['target']}: {counts} ({routes})")
        for line in dub["dubbed"]:
            print(f"    {line['id']} {line['text']} → {line['translation']}\n        route: {line['route']}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=Path, help="a folder of WAVs and a Kaldi-style `text` file of references")
    parser.add_argument("--targets", nargs="+", default=["en", "es", "pt-BR"], help="dub the f5 clip into these")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    found = clips(args.clips)
    if not found:
        print("no clips: install f5-tts (make setup) or give --clips DIR", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="dubkit-mandarin-") as folder:
        cache, out = Cache(Path(folder) / "cache"), Path(folder) / "out"
        transcripts = [measure_transcript(name, audio, text, cache, out) for name, audio, text in found]
        f5 = f5_clip()
        dubs = [measure_dub(f5, target, cache, out) for target in args.targets] if f5 else []
    if args.json:
        figures = {"transcripts": transcripts, "cer_all": round(pooled_cer(transcripts), 4), "dubs": dubs}
        print(json.dumps(figures, ensure_ascii=False, indent=2))
    else:
        show(transcripts, dubs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
