"""Who speaks each line: clustering voice embeddings into speakers, matching them to known ones, and pitch.

Pure numpy/scipy: the embeddings come from a speaker encoder backend (`dubkit/backends/diarize_*.py`).
Labels are `S1`, `S2`, ... in order of first appearance. Two voices are the same speaker when the cosine
similarity of their embeddings reaches the preset's `speaker_threshold` (average linkage: a cluster joins
another when their lines are that similar on average).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

VERSION = 1  # bump when a change here changes the bytes of a cache entry (see dubkit.cache)
MIN_EMBED_MS = 1000  # a line shorter than this carries too little voice: it takes its nearest neighbour's speaker
MALE_BELOW_HZ = 160.0  # median F0 under this: likely a male voice (adult male ~85-155 Hz, female ~165-255 Hz)
F0_RANGE_HZ = (60.0, 400.0)


@dataclass(frozen=True)
class Voiceprint:
    """One speaker's voice: the mean of its lines' embeddings (unit length), median F0 and how much speech."""

    embedding: tuple[float, ...]
    f0_hz: float | None = None
    seconds: float = 0.0

    @property
    def gender(self) -> str:
        return gender_of(self.f0_hz)

    def vector(self) -> np.ndarray:
        return np.asarray(self.embedding, dtype=np.float64)


def label(index: int) -> str:
    return f"S{index + 1}"


def cluster(embeddings: np.ndarray, threshold: float) -> list[int]:
    """Agglomerative clustering (average linkage, cosine): cluster ids 0, 1, ... in order of first appearance."""
    if len(embeddings) == 0:
        return []
    if len(embeddings) == 1:
        return [0]
    from scipy.cluster.hierarchy import fcluster, linkage

    tree = linkage(_unit(embeddings), method="average", metric="cosine")
    raw = fcluster(tree, t=1.0 - threshold, criterion="distance")
    return _in_order_of_appearance(raw.tolist())


def line_speakers(
    spans_ms: Sequence[tuple[int, int]], embeddings: Mapping[int, np.ndarray], threshold: float
) -> list[str]:
    """A label per line: embedded lines clustered; the others take the speaker of the nearest embedded line."""
    embedded = sorted(embeddings)
    if not embedded:
        return [label(0)] * len(spans_ms)
    ids = cluster(np.stack([embeddings[i] for i in embedded]), threshold)
    known = dict(zip(embedded, ids, strict=True))
    spans = np.array([spans_ms[i] for i in embedded], dtype=np.int64).reshape(-1, 2)
    raw = [known[i] if i in known else ids[_nearest(spans, span)] for i, span in enumerate(spans_ms)]
    return [label(c) for c in _in_order_of_appearance(raw)]


def voiceprints(
    labels: Sequence[str], embeddings: Mapping[int, np.ndarray], seconds: Sequence[float]
) -> dict[str, Voiceprint]:
    """Speaker → (mean embedding, seconds of speech) from the lines that were embedded; F0 left to `median_f0`."""
    prints: dict[str, Voiceprint] = {}
    for speaker in dict.fromkeys(labels):
        lines = [i for i, s in enumerate(labels) if s == speaker]
        vectors = [embeddings[i] for i in lines if i in embeddings]
        mean = _unit(np.mean(vectors, axis=0)[None])[0] if vectors else np.zeros(0)
        prints[speaker] = Voiceprint(tuple(float(x) for x in mean), None, round(sum(seconds[i] for i in lines), 3))
    return prints


def match(episode: Mapping[str, Voiceprint], known: Mapping[str, Voiceprint], threshold: float) -> dict[str, str]:
    """Episode speaker → series speaker: the most similar pairs first, one to one, at least *threshold* alike.

    An episode speaker with no match (or no embedding) gets a new label after the known ones, in episode order.
    """
    pairs = [
        (_cosine(a.vector(), b.vector()), ep, series)
        for ep, a in episode.items()
        for series, b in known.items()
        if len(a.embedding) and len(a.embedding) == len(b.embedding)
    ]
    mapping: dict[str, str] = {}
    for similarity, ep, series in sorted(pairs, key=lambda p: -p[0]):
        if similarity >= threshold and ep not in mapping and series not in mapping.values():
            mapping[ep] = series
    used = set(known)
    for ep in episode:
        if ep not in mapping:
            mapping[ep] = _next_free(used)
            used.add(mapping[ep])
    return mapping


def prints_to_json(prints: Mapping[str, Voiceprint]) -> dict[str, dict]:
    return {
        name: {
            "embedding": [round(x, 6) for x in p.embedding],
            "f0_hz": None if p.f0_hz is None else round(p.f0_hz, 1),
            "gender": p.gender,
            "seconds": p.seconds,
        }
        for name, p in sorted(prints.items())
    }


def prints_from_json(data: Mapping[str, Mapping]) -> dict[str, Voiceprint]:
    """The inverse of `prints_to_json` (`gender` is derived from F0, not read)."""
    return {
        str(name): Voiceprint(tuple(map(float, item["embedding"])), item.get("f0_hz"), float(item["seconds"]))
        for name, item in data.items()
    }


def gender_of(f0_hz: float | None) -> str:
    if f0_hz is None:
        return ""
    return "male" if f0_hz < MALE_BELOW_HZ else "female"


def median_f0(samples: np.ndarray, rate: int, frame_ms: float = 40.0, hop_ms: float = 10.0) -> float | None:
    """Median fundamental frequency (Hz) of the voiced frames (YIN), None when nothing is voiced."""
    frames = _loud_frames(np.asarray(samples, dtype=np.float64), rate, frame_ms, hop_ms)
    if len(frames) == 0:
        return None
    shortest, longest = int(rate / F0_RANGE_HZ[1]), int(rate / F0_RANGE_HZ[0])
    width = frames.shape[1] - longest
    diff = np.stack(
        [((frames[:, :width] - frames[:, lag : lag + width]) ** 2).sum(axis=1) for lag in range(1, longest + 1)],
        axis=1,
    )
    cumulative = np.cumsum(diff, axis=1) / np.arange(1, longest + 1)
    normalized = diff / np.maximum(cumulative, 1e-12)
    f0 = [_yin_lag(row, shortest) for row in normalized]
    voiced = [rate / lag for lag in f0 if lag is not None]
    return float(np.median(voiced)) if len(voiced) >= 5 else None


def _yin_lag(normalized: np.ndarray, shortest: int, dip: float = 0.15, voiced: float = 0.35) -> float | None:
    """The first dip of YIN's normalized difference under *dip* (else the deepest), refined; None if unvoiced."""
    search = normalized[shortest - 1 :]
    below = np.flatnonzero(search < dip)
    if len(below):
        index = int(below[0])
        while index + 1 < len(search) and search[index + 1] < search[index]:
            index += 1
    else:
        index = int(np.argmin(search))
    if search[index] > voiced:
        return None
    lag = index + shortest  # normalized[k] is the lag k + 1
    if 0 < index < len(search) - 1:
        a, b, c = search[index - 1], search[index], search[index + 1]
        lag += 0.5 * (a - c) / max(a - 2 * b + c, 1e-12)
    return float(lag)


def _loud_frames(samples: np.ndarray, rate: int, frame_ms: float, hop_ms: float) -> np.ndarray:
    """Frames within 30 dB of the loudest (speech, not the pauses between words), DC removed."""
    size, hop = int(rate * frame_ms / 1000), int(rate * hop_ms / 1000)
    if len(samples) < size:
        return np.zeros((0, size))
    starts = np.arange(0, len(samples) - size + 1, hop)
    frames = np.stack([samples[s : s + size] for s in starts])
    frames = frames - frames.mean(axis=1, keepdims=True)
    energy = 10 * np.log10((frames**2).mean(axis=1) + 1e-12)
    return frames[(energy > energy.max() - 30.0) & (energy > -60.0)]


def _unit(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float64)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-12))


def _nearest(spans: np.ndarray, span: tuple[int, int]) -> int:
    """The span closest to *span*: the shortest gap between them (0 when they touch), the earlier on a tie."""
    gaps = np.maximum(0, np.maximum(spans[:, 0] - span[1], span[0] - spans[:, 1]))
    return int(np.argmin(gaps))


def _in_order_of_appearance(raw: Sequence[int]) -> list[int]:
    order = {c: i for i, c in enumerate(dict.fromkeys(raw))}
    return [order[c] for c in raw]


def _next_free(used: set[str]) -> str:
    index = 0
    while label(index) in used:
        index += 1
    return label(index)
