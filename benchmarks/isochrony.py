"""Isochrony benchmark: how often a dubbed line must be sped up, stretched or overflow its slot, speaking one version
of each line (K = 1) against the one chosen among K by measured length (`dubkit.script.isochrony`); and what the choice
costs in fidelity (chrF).

    python benchmarks/isochrony.py [--preset P] [--limit N] [--versions K] [--no-clips] [--json out.json]
    python benchmarks/isochrony.py --llm test-model   # pipelines/llm.toml on the tests' Gemma 3 270M, served here

Two sets, both through the preset's translate route (`choose_route`, `dubkit.stages.versions`: an LLM preset's
versions, or the offline translation and its safe condensations) and its voices (the per-take cache of synthesize):
- FLORES-200 devtest en→es, the first N sentences: each line's slot is how long the preset's English voice takes to
  say the English sentence (lines laid end to end, `min_gap_ms` apart, so the slot is exactly that); chrF against the
  human Spanish references.
- The shared clips with English speech (talking heads, JFK, FLEURS), transcribed by the preset's ASR (ingest and
  transcribe stages; slots from `dubkit.fit.slots` as synthesize computes them); chrF of the chosen Spanish
  translated back to English against the transcript (back-translation: no references).

The fit is `dubkit.fit` as synthesize applies it (speed_for, place, overflow_ms). One liberty: the take at the fit's
speed is taken to last the natural take's length over the speed (engines scale it so; tests/test_tts.py checks it)
rather than synthesized again. K = 1 is each line's first version (the most faithful), so both columns share one
translation. Needs sacrebleu.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dubkit import fit  # noqa: E402
from dubkit.backends.base import TranslationRequest  # noqa: E402
from dubkit.cache import Cache  # noqa: E402
from dubkit.casting.voices import Voice, load_voices  # noqa: E402
from dubkit.config import Preset, load_preset  # noqa: E402
from dubkit.job import Episode, Job  # noqa: E402
from dubkit.script import (  # noqa: E402
    Segment,
    Version,
    isochrony,  # noqa: E402
)
from dubkit.stages import ingest, synthesize, transcribe, translate, versions  # noqa: E402
from dubkit.stages.base import Backends, Context  # noqa: E402
from dubkit.stages.line_memo import CacheMemo  # noqa: E402

MEDIA = Path(__file__).resolve().parents[2] / "shared" / "media"
CLIPS = (
    "video/talking_heads/face_1.mp4",
    "video/talking_heads/face_4.mp4",
    "audio/jfk/jfk.flac",
    "audio/fleurs/fleurs-en-001.ogg",
    "audio/fleurs/fleurs-en-002.ogg",
    "audio/fleurs/fleurs-en-003.ogg",
)


@dataclasses.dataclass(frozen=True)
class Line:
    """One line to dub: its source text, slot, versions with measured lengths, and a reference (may be empty)."""

    source: str
    slot: fit.Slot
    versions: tuple[Version, ...]
    reference: str = ""


def voice_for(ctx: Context, language: str) -> Voice:
    return load_voices()[ctx.preset.synthesize.voices.get(language, ctx.preset.synthesize.fallback_voice)]


def measured(ctx: Context, text: str, voice: Voice) -> int:
    wav, _ = synthesize.take(text, voice, 1.0, ctx)
    return int(round(synthesize.measure_ms(wav)))


def translated_versions(ctx: Context, segments: Sequence[Segment], duration_s: float) -> list[tuple[Version, ...]]:
    """Each line's versions from the preset's route (at least the translation itself)."""
    route = translate.choose_route(ctx, "en", "es")
    request = TranslationRequest(
        texts=tuple(s.text for s in segments),
        source="en",
        target="es",
        spans=tuple((s.start_ms, s.end_ms) for s in segments),
        ids=tuple(s.id for s in segments),
        speakers=tuple(s.speaker for s in segments),
        memo=CacheMemo(ctx.cache),  # an LLM's answers kept with the takes (--cache-dir): a re-run asks nothing
    )
    legs, found = versions.translate(route, request, ctx, duration_s, lambda i, text: text)
    return [said or (Version(legs[-1][i].strip(), "mt"),) for i, said in enumerate(found)]


def with_lengths(ctx: Context, lines: list[Line]) -> list[Line]:
    voice = voice_for(ctx, "es")
    return [
        dataclasses.replace(
            line, versions=tuple(dataclasses.replace(v, speech_ms=measured(ctx, v.text, voice)) for v in line.versions)
        )
        for line in lines
    ]


def flores_lines(ctx: Context, media: Path, limit: int) -> list[Line]:
    folder = media / "text" / "flores200_devtest"
    english = (folder / "eng_Latn.devtest").read_text(encoding="utf-8").splitlines()[:limit]
    spanish = (folder / "spa_Latn.devtest").read_text(encoding="utf-8").splitlines()[:limit]
    voice, gap = voice_for(ctx, "en"), ctx.preset.synthesize.fit.min_gap_ms
    segments, start = [], 0
    for index, text in enumerate(english):
        ms = measured(ctx, text, voice)
        segments.append(Segment(f"F{index}", start, start + ms, text))
        start += ms + gap
    slots = fit.slots(segments, segments[-1].end_ms, ctx.preset.synthesize.fit)
    said = translated_versions(ctx, segments, segments[-1].end_ms / 1000)
    return [Line(s.text, slot, v, ref) for s, slot, v, ref in zip(segments, slots, said, spanish, strict=True)]


def clip_lines(ctx: Context, media: Path) -> list[Line]:
    lines: list[Line] = []
    for name in CLIPS:
        path = media / name
        if not path.is_file():
            print(f"skipped {name}: not found", file=sys.stderr)
            continue
        job = transcribe.run(ingest.run(Job(Episode(path, "es", "en")), ctx), ctx)
        segments = transcribe.load(job.entry("transcribe") / "transcript.json").segments
        if not segments:
            continue
        duration_ms = int(round(job.duration_s * 1000))
        slots = fit.slots(segments, duration_ms, ctx.preset.synthesize.fit)
        said = translated_versions(ctx, segments, job.duration_s)
        lines += [Line(s.text, slot, v) for s, slot, v in zip(segments, slots, said, strict=True)]
    return lines


def fitted(speech_ms: int, slot: fit.Slot, end_ms: int, config) -> dict[str, float]:  # noqa: ANN001
    """One take fitted as synthesize fits it: speed, stretch, overflow; the played length against the slot."""
    speed = fit.speed_for(speech_ms, slot, config.max_speed)
    take_ms = speech_ms / speed
    placed = fit.place(take_ms, slot, slot.start_ms, end_ms, config)
    length = take_ms / placed.stretch
    overflow = fit.overflow_ms(length, fit.Slot(placed.start_ms, slot.end_ms))
    return {"speed": speed, "stretch": placed.stretch, "overflow": overflow, "error_ms": abs(length - slot.ms)}


def figures(ctx: Context, lines: list[Line], count: int, back: list[str] | None) -> dict[str, float]:
    """The share of lines sped up past natural_speed, stretched, overflowing, any of these; mean |length − slot|;
    chrF of the chosen versions against the references (or of their back-translation against the source)."""
    import sacrebleu

    config = ctx.preset.synthesize.fit
    end_ms = max(line.slot.end_ms for line in lines) + 10_000  # no line meets the episode's end here
    chosen, fits = [], []
    for line in lines:
        lengths = [v.speech_ms or 0 for v in line.versions[:count]]
        index = isochrony.choose(lengths, line.slot, config.natural_speed).index
        chosen.append(line.versions[index].text)
        fits.append(fitted(lengths[index], line.slot, end_ms, config))
    sped = [f["speed"] > config.natural_speed for f in fits]
    stretched = [f["stretch"] > 1.0 for f in fits]
    overflowing = [f["overflow"] > 0 for f in fits]
    share = lambda flags: round(100 * sum(flags) / len(flags), 1)  # noqa: E731
    if back is None:
        chrf = sacrebleu.corpus_chrf(chosen, [[line.reference for line in lines]]).score
    else:
        chrf = sacrebleu.corpus_chrf(back_translated(ctx, chosen), [[line.source for line in lines]]).score
    return {
        "sped_up_%": share(sped),
        "stretched_%": share(stretched),
        "overflowing_%": share(overflowing),
        "any_%": share([a or b or c for a, b, c in zip(sped, stretched, overflowing, strict=True)]),
        "mean_abs_error_ms": round(statistics.fmean(f["error_ms"] for f in fits)),
        "not_v1_%": share([text != line.versions[0].text for text, line in zip(chosen, lines, strict=True)]),
        # the source said again, not translated: back-translation scores such a line as perfect
        "untranslated_%": share(
            [_words(text) == _words(line.source) for text, line in zip(chosen, lines, strict=True)]
        ),
        "chrF": round(chrf, 1),
    }


def _words(text: str) -> list[str]:
    return "".join(c for c in text.casefold() if c.isalnum() or c.isspace()).split()


def back_translated(ctx: Context, texts: list[str]) -> list[str]:
    """*texts* in English through the offline default's route, whatever engine made them: one judge for all."""
    judge = Context(ctx.cache, load_preset("default"), Backends())
    route = translate.choose_route(judge, "es", "en")
    return list(route.translate(TranslationRequest(tuple(texts), "es", "en"))[-1])


def benchmark(preset: Preset, cache: Cache, args: argparse.Namespace) -> dict[str, object]:
    preset = dataclasses.replace(preset, translate=dataclasses.replace(preset.translate, versions=args.versions))
    ctx = Context(cache, preset, Backends(origin=str(preset.path)))
    sets = {"flores-en-es": flores_lines(ctx, args.media, args.limit)}
    if args.clips:
        sets["clips-en-es"] = clip_lines(ctx, args.media)
    route = translate.choose_route(ctx, "en", "es").label
    report: dict[str, object] = {"preset": str(preset.path), "route": route, "versions": args.versions}
    for name, lines in sets.items():
        lines = with_lengths(ctx, lines)
        back = None if name.startswith("flores") else []
        report[name] = {
            "lines": len(lines),
            "versions_per_line": round(statistics.fmean(len(line.versions) for line in lines), 2),
            "K=1": figures(ctx, lines, 1, back),
            f"K={args.versions}": figures(ctx, lines, args.versions, back),
        }
    ctx.backends.close()
    return report


@contextlib.contextmanager
def served_preset(args: argparse.Namespace, work: Path) -> Iterator[Preset]:
    """The preset to measure: --preset, or (--llm test-model) pipelines/llm.toml on Gemma 3 270M served here
    (tests/llm_server.py; a model that measures the path, not translations anyone should use)."""
    if args.llm is None:
        yield load_preset(args.preset)
        return
    from tests.llm_server import served_llm

    preset = load_preset("llm")
    with served_llm(work / "server.log") as server:
        llm = {**preset.translate.options["llm"], **server.backend_options(), "max_tokens": 1024}
        translate_config = dataclasses.replace(preset.translate, options={"llm": llm})
        yield dataclasses.replace(preset, translate=translate_config)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default=None, help="a preset name or TOML (default: the embedded default)")
    parser.add_argument("--media", type=Path, default=MEDIA)
    parser.add_argument("--limit", type=int, default=30, help="FLORES sentences (default 30)")
    parser.add_argument("--versions", type=int, default=3, help="K, versions per line (default 3)")
    parser.add_argument("--no-clips", dest="clips", action="store_false", help="FLORES only")
    parser.add_argument("--cache-dir", type=Path, default=None, help="keep takes and transcripts here (re-runs)")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--llm", choices=["test-model"], default=None, help="the llm preset on the tests' Gemma")
    args = parser.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp, served_preset(args, Path(tmp)) as preset:
        report = benchmark(preset, Cache(args.cache_dir or Path(tmp) / "cache"), args)
    report["seconds"] = round(time.perf_counter() - started, 1)
    text = json.dumps(report, ensure_ascii=False, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
