"""Voice-cloning references: for each speaker, the clean lines of the original episode to clone from.

A line is *clean* when no other speaker talks within `margin_ms` of it (no overlap, no cross-talk at
its edges). Each speaker's clean lines are taken longest first (ties: higher ASR confidence, then
earlier) until `target_ms` of speech is gathered. The choice is plain data (`Reference`: speaker and
line ids) so it can be written into the script, edited, and honoured on the next run (`from_ids`).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dubkit.audio import read_wav, to_mono, write_wav
from dubkit.casting.voices import Voice
from dubkit.script import Segment

log = logging.getLogger(__name__)

VERSION = 1  # bump when a change here changes the bytes of a cache entry (see dubkit.cache)
TARGET_MS = 9_000  # XTTS conditions on 6 s windows; a little more gives the speaker embedding a steadier mean
MIN_MS = 1_500  # shorter lines carry too little of the voice
MARGIN_MS = 250  # another speaker this close to a line's edge makes it unclean
GAP_MS = 150  # silence put between joined lines
CLONE = "@speaker"  # a profile's model_voice that means "the voice of the line's own speaker in the original"


@dataclass(frozen=True)
class Reference:
    """The lines chosen to clone one speaker's voice from, with their spans (ms) in the source."""

    speaker: str
    segment_ids: tuple[str, ...]
    spans_ms: tuple[tuple[int, int], ...]

    @property
    def duration_ms(self) -> int:
        return sum(end - start for start, end in self.spans_ms)


def choose(
    segments: Sequence[Segment],
    target_ms: int = TARGET_MS,
    min_ms: int = MIN_MS,
    margin_ms: int = MARGIN_MS,
) -> dict[str, Reference]:
    """Speaker → its reference lines; a speaker with no clean line of at least `min_ms` gets none."""
    chosen: dict[str, Reference] = {}
    for speaker in sorted({s.speaker for s in segments}):
        clean = [s for s in segments if s.speaker == speaker and s.duration_ms >= min_ms]
        clean = [s for s in clean if not _overlaps_other(s, segments, margin_ms)]
        clean.sort(key=lambda s: (-s.duration_ms, -(s.confidence or 0.0), s.start_ms))
        picked: list[Segment] = []
        for segment in clean:
            if sum(p.duration_ms for p in picked) >= target_ms:
                break
            picked.append(segment)
        if not picked:
            log.info("speaker %s has no clean line of %d ms or more: no cloning reference", speaker, min_ms)
            continue
        chosen[speaker] = _reference(speaker, sorted(picked, key=lambda s: s.start_ms))
    return chosen


def from_ids(segments: Sequence[Segment], ids: Iterable[str]) -> dict[str, Reference]:
    """Honour an edited choice: the lines named by `ids`, grouped by their speaker (unknown ids are ignored)."""
    wanted = set(ids)
    by_speaker: dict[str, list[Segment]] = {}
    for segment in sorted(segments, key=lambda s: s.start_ms):
        if segment.id in wanted:
            by_speaker.setdefault(segment.speaker, []).append(segment)
    return {speaker: _reference(speaker, lines) for speaker, lines in sorted(by_speaker.items())}


def extract(audio: Path, reference: Reference, out: Path, gap_ms: int = GAP_MS) -> Path:
    """Write the reference lines of `audio` (a WAV of the source) joined by short silences, as mono WAV."""
    samples, rate = read_wav(Path(audio))
    samples = to_mono(samples)
    gap = np.zeros(int(rate * gap_ms / 1000), dtype=np.float32)
    pieces: list[np.ndarray] = []
    for start, end in reference.spans_ms:
        piece = samples[int(rate * start / 1000) : int(rate * end / 1000)]
        if len(piece):
            pieces.extend((piece.astype(np.float32), gap))
    joined = np.concatenate(pieces[:-1]) if pieces else np.zeros(0, np.float32)
    write_wav(Path(out), joined, rate)
    return Path(out)


def cast_clones(
    segments: Sequence[Segment],
    cast: Mapping[str, Voice],
    edited: Mapping[str, Sequence[str]],
    reference_wav: Callable[[Reference], Path],
) -> tuple[dict[str, Voice], dict[str, tuple[str, ...]]]:
    """Line id → the voice that speaks it, with cloning profiles pointed at their speaker's reference WAV.

    References: the edited choice (speaker → line ids) where given, else the clean lines (`choose`), else
    all of the speaker's lines. Returns the voices and the choice made (speaker → line ids), for the script.
    """
    cloning = sorted({s.speaker for s in segments if cast[s.id].model_voice == CLONE})
    if not cloning:
        return dict(cast), {}
    edited_refs = from_ids(segments, [i for ids in edited.values() for i in ids])
    clean, everything = choose(segments), from_ids(segments, [s.id for s in segments])
    picked = {sp: edited_refs.get(sp) or clean.get(sp) or everything[sp] for sp in cloning}
    wavs = {speaker: reference_wav(reference) for speaker, reference in picked.items()}
    voices = {
        s.id: cloned(cast[s.id], wavs[s.speaker], s.speaker) if cast[s.id].model_voice == CLONE else cast[s.id]
        for s in segments
    }
    return voices, {speaker: reference.segment_ids for speaker, reference in picked.items()}


def cloned(voice: Voice, reference_wav: Path, speaker: str) -> Voice:
    """The voice profile that clones `speaker` from `reference_wav` (for an engine that clones, e.g. coqui)."""
    return dataclasses.replace(voice, name=f"{voice.name}@{speaker}", model_voice=str(reference_wav))


def _reference(speaker: str, lines: Sequence[Segment]) -> Reference:
    return Reference(speaker, tuple(s.id for s in lines), tuple((s.start_ms, s.end_ms) for s in lines))


def _overlaps_other(segment: Segment, segments: Sequence[Segment], margin_ms: int) -> bool:
    start, end = segment.start_ms - margin_ms, segment.end_ms + margin_ms
    return any(o.speaker != segment.speaker and o.start_ms < end and o.end_ms > start for o in segments)
