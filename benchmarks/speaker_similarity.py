"""Speaker-embedding similarity on the shared real recordings: where to put the diarization threshold.

Same speaker: pairs of LJ Speech clips (one reader), the two halves of each FLEURS clip and of JFK's speech.
Different speakers: LJ against JFK, the two GRID speakers of `grid_2speakers_side_by_side_turns.mp4`, the three
of `grid_3speakers_hard_cuts.mp4`, LJ and JFK against the FLEURS readers. FLEURS clips against each other are
reported apart (some readers may recur). Also the median F0 (Hz) and the gender it suggests per recording.

    .venv/bin/python benchmarks/speaker_similarity.py [--media ../shared/media] [--json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dubkit import media  # noqa: E402
from dubkit.backends.diarize_resemblyzer import ResemblyzerEncoder  # noqa: E402
from dubkit.casting import speakers  # noqa: E402

RATE = 16000


def load(path: Path) -> np.ndarray:
    return media.decode_audio(path, RATE, 1).reshape(-1)


def span(samples: np.ndarray, start_s: float, end_s: float) -> np.ndarray:
    return samples[int(start_s * RATE) : int(end_s * RATE)]


def recordings(root: Path) -> dict[str, np.ndarray]:
    found = {f"lj{i}": load(p) for i, p in enumerate(sorted((root / "audio/ljspeech").glob("*.flac")))}
    found["jfk"] = load(root / "audio/jfk/jfk.flac")
    found |= {p.stem: load(p) for p in sorted((root / "audio/fleurs").glob("*.ogg"))}
    two = load(root / "video/hard_cases/grid_2speakers_side_by_side_turns.mp4")
    three = load(root / "video/hard_cases/grid_3speakers_hard_cuts.mp4")
    found |= {"grid2-left": span(two, 0, 3), "grid2-right": span(two, 3, 6)}
    found |= {f"grid3-{i}": span(three, 3 * i, 3 * i + 3) for i in range(3)}
    return found


def halves(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    middle = len(samples) // 2
    return samples[:middle], samples[middle:]


def stats(values: list[float]) -> dict[str, float]:
    array = np.array(values)
    return {"n": len(values), "min": round(float(array.min()), 3), "median": round(float(np.median(array)), 3),
            "max": round(float(array.max()), 3)}  # fmt: skip


def measure(root: Path) -> dict:
    encoder = ResemblyzerEncoder()
    audio = recordings(root)
    vectors = {name: encoder.embed(samples) for name, samples in audio.items()}
    cos = lambda a, b: float(np.dot(vectors[a], vectors[b]))  # noqa: E731
    lj = [n for n in vectors if n.startswith("lj")]
    fleurs = [n for n in vectors if n.startswith("fleurs")]
    same = [cos(a, b) for a, b in itertools.combinations(lj, 2)]
    for name in [*fleurs, "jfk"]:
        first, second = halves(audio[name])
        same.append(float(np.dot(encoder.embed(first), encoder.embed(second))))
    grid = ["grid2-left", "grid2-right", "grid3-0", "grid3-1", "grid3-2"]
    different = [cos(a, "jfk") for a in lj] + [cos("grid2-left", "grid2-right")]
    different += [cos(a, b) for a, b in itertools.combinations(grid[2:], 2)]
    different += [cos(a, b) for a in [*lj, "jfk"] for b in fleurs]
    across_fleurs = [cos(a, b) for a, b in itertools.combinations(fleurs, 2)]
    f0 = {name: speakers.median_f0(samples, RATE) for name, samples in audio.items()}
    return {
        "same_speaker": stats(same),
        "different_speakers": stats(different),
        "fleurs_readers_against_each_other": stats(across_fleurs),
        "grid2_left_vs_right": round(cos("grid2-left", "grid2-right"), 3),
        "median_f0_hz": {k: (round(v, 1) if v else None, speakers.gender_of(v)) for k, v in f0.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--media", type=Path, default=REPO.parent / "shared" / "media")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    found = measure(args.media)
    print(json.dumps(found, indent=None if args.json else 2))


if __name__ == "__main__":
    main()
