"""Shots and face tracks, streamed: where every face is in every frame, and whose mouth moves with the speech.

A shot ends where the colour histograms of two consecutive frames differ by more than `CUT_DISTANCE`
(half the L1 distance of 512-bin histograms: about 0.01-0.04 within a shot, 0.66-0.93 across the hard
cuts of the shared clips). The face mesh restarts at every cut, so no track crosses one. Within a shot a
face joins the track whose last box it overlaps most (IoU ≥ `MIN_IOU`), else it starts a new track.
The active speaker of a time window is the track whose mouth follows the speech best (`dubkit.lipsync.sync`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dubkit import media
from dubkit.lipsync import sync
from dubkit.lipsync.faces import ANALYSIS_HEIGHT, Face, FaceFinder, MouthTrack, iou, native_logs_silenced

log = logging.getLogger(__name__)

VERSION = 1  # bump when a change here changes the bytes of a cache entry (see dubkit.cache)
CUT_DISTANCE = 0.3
MIN_IOU = 0.3
MAX_FACES = 4
SPEAKER_MAX_LAG_MS = 200.0  # a speaker's mouth is within a few frames of the sound; wider lags only add noise
EASE_S = 0.12  # a window's re-animated mouth fades in over its first 0.12 s and out over its last


@dataclass(frozen=True)
class FaceTrack:
    """One face through one shot: frame indices, boxes (x0, y0, x1, y1 as fractions), mouth opening, and the
    mouth corners ((x, y) left, (x, y) right, as fractions) that align mouths between frames."""

    id: int
    shot: int
    frames: np.ndarray
    boxes: np.ndarray
    opening: np.ndarray
    corners: np.ndarray

    def mouth(self, times_s: np.ndarray) -> MouthTrack:
        return MouthTrack(times_s[self.frames], self.opening)


@dataclass(frozen=True)
class Analysis:
    """The picture of one video: frame times, the first frame of every shot, and the face tracks."""

    times_s: np.ndarray
    shots: tuple[int, ...]
    tracks: tuple[FaceTrack, ...]

    def shot_of(self, frame: int) -> int:
        return int(np.searchsorted(self.shots, frame, side="right")) - 1

    def to_json(self) -> str:
        tracks = [
            {name: getattr(t, name).tolist() for name in ("frames", "boxes", "opening", "corners")}
            | {"id": t.id, "shot": t.shot}
            for t in self.tracks
        ]
        return json.dumps({"times_s": self.times_s.tolist(), "shots": list(self.shots), "tracks": tracks})

    @classmethod
    def from_json(cls, text: str) -> Analysis:
        data = json.loads(text)
        tracks = tuple(
            FaceTrack(
                t["id"],
                t["shot"],
                np.asarray(t["frames"], dtype=np.int64),
                np.asarray(t["boxes"], dtype=np.float64).reshape(-1, 4),
                np.asarray(t["opening"], dtype=np.float64),
                np.asarray(t["corners"], dtype=np.float64).reshape(-1, 2, 2),
            )
            for t in data["tracks"]
        )
        return cls(np.asarray(data["times_s"], dtype=np.float64), tuple(data["shots"]), tracks)


Windows = Mapping[int, Sequence[tuple[float, float]]]  # track id → [start_s, end_s) spans to re-animate


def plan(analysis: Analysis, windows: Windows) -> dict[int, tuple[FaceTrack, int]]:
    """Frame index → (track, position in the track) for each track's frames inside its windows."""
    chosen: dict[int, tuple[FaceTrack, int]] = {}
    for track in analysis.tracks:
        spans = windows.get(track.id, ())
        times = analysis.times_s[track.frames]
        for position, (frame, time_s) in enumerate(zip(track.frames, times, strict=True)):
            if any(start <= time_s < end for start, end in spans):
                chosen[int(frame)] = (track, position)
    return chosen


def eases(analysis: Analysis, windows: Windows) -> dict[int, float]:
    """Frame index → how much of the re-animated mouth each planned frame shows, 0-1: rising over the first
    `EASE_S` of a window and falling over its last, so the picture never jumps between the actor's own mouth and
    the re-animated one. An edge inside another window of the track does not fade: the mouth stays re-animated
    across overlapping windows. A frame's share depends only on the windows within `EASE_S` of it."""
    weights: dict[int, float] = {}
    for track in analysis.tracks:
        spans = windows.get(track.id, ())
        times = analysis.times_s[track.frames]
        for start, end in spans:
            inside = (times >= start) & (times < end)
            shown = times[inside]
            rise = shown - start if not _covered(start, spans, opening=True) else np.full(len(shown), np.inf)
            fall = end - shown if not _covered(end, spans, opening=False) else np.full(len(shown), np.inf)
            share = np.clip(np.minimum(rise, fall) / EASE_S, 0.0, 1.0)
            for frame, weight in zip(track.frames[inside].tolist(), share.tolist(), strict=True):
                weights[frame] = max(weights.get(frame, 0.0), weight)
    return weights


def _covered(edge: float, spans: Sequence[tuple[float, float]], opening: bool) -> bool:
    """Whether another of *spans* shows the frames on the outer side of a window's opening (or closing) *edge*."""
    return any(start < edge <= end if opening else start <= edge < end for start, end in spans)


def analyse(video: Path, max_height: int = ANALYSIS_HEIGHT, max_faces: int = MAX_FACES) -> Analysis:
    """Shots and face tracks of *video*, one frame in memory at a time."""
    times: list[float] = []
    shots: list[int] = []
    builder = _Tracks()
    previous: np.ndarray | None = None
    with native_logs_silenced(), FaceFinder(max_faces) as finder:
        for frame in media.video_frames(video, max_height):
            histogram = _histogram(frame.rgb)
            if previous is None or _distance(histogram, previous) > CUT_DISTANCE:
                shots.append(frame.index)
                finder.new_shot()
            previous = histogram
            times.append(frame.time_s)
            for face in finder.faces(frame.rgb):
                builder.add(len(shots) - 1, frame.index, face)
            builder.end_frame(len(shots) - 1)
    analysis = Analysis(np.asarray(times), tuple(shots), builder.tracks())
    log.info("%s: %d frames, %d shots, %d face tracks", video, len(times), len(shots), len(analysis.tracks))
    return analysis


def active_speaker(
    analysis: Analysis, audio: np.ndarray, rate: int, start_s: float, end_s: float
) -> tuple[FaceTrack, sync.SyncEstimate] | None:
    """The track in [start_s, end_s) whose mouth follows *audio* best (None: no face moves with it)."""
    best = best_follower(analysis, audio, rate, start_s, end_s, SPEAKER_MAX_LAG_MS)
    return best if best is not None and best[1].confidence > 0 else None


def best_follower(
    analysis: Analysis, audio: np.ndarray, rate: int, start_s: float, end_s: float, max_lag_ms: float
) -> tuple[FaceTrack, sync.SyncEstimate] | None:
    """The track in view in [start_s, end_s) whose mouth follows *audio* with the highest sync confidence."""
    best: tuple[FaceTrack, sync.SyncEstimate] | None = None
    for track in analysis.tracks:
        times = analysis.times_s[track.frames]
        if len(times) == 0 or times[-1] < start_s or times[0] >= end_s:
            continue
        found = sync.estimate(track.mouth(analysis.times_s), audio, rate, start_s, end_s, max_lag_ms)
        if found is not None and (best is None or found.confidence > best[1].confidence):
            best = (track, found)
    return best


class _Tracks:
    """Greedy IoU association of the faces of each frame with the open tracks of the current shot."""

    def __init__(self) -> None:
        self._rows: list[dict] = []
        self._open: list[int] = []
        self._seen: set[int] = set()

    def add(self, shot: int, frame: int, face: Face) -> None:
        candidates = [i for i in self._open if self._rows[i]["shot"] == shot and i not in self._seen]
        overlaps = [(iou(self._rows[i]["boxes"][-1], face.box), i) for i in candidates]
        overlap, index = max(overlaps, default=(0.0, -1))
        if overlap < MIN_IOU:
            index = len(self._rows)
            self._rows.append({"shot": shot, "frames": [], "boxes": [], "opening": [], "corners": []})
            self._open.append(index)
        row = self._rows[index]
        row["frames"].append(frame)
        row["boxes"].append(face.box)
        row["opening"].append(face.opening)
        row["corners"].append(face.corners)
        self._seen.add(index)

    def end_frame(self, shot: int) -> None:
        """Tracks stay open to the end of their shot (a face missed for a few frames rejoins its track)."""
        self._seen.clear()
        self._open = [i for i in self._open if self._rows[i]["shot"] == shot]

    def tracks(self) -> tuple[FaceTrack, ...]:
        return tuple(
            FaceTrack(
                index,
                row["shot"],
                np.asarray(row["frames"], dtype=np.int64),
                np.asarray(row["boxes"], dtype=np.float64),
                np.asarray(row["opening"], dtype=np.float64),
                np.asarray(row["corners"], dtype=np.float64).reshape(-1, 2, 2),
            )
            for index, row in enumerate(self._rows)
        )


def _histogram(rgb: np.ndarray) -> np.ndarray:
    """512-bin colour histogram (3 bits per channel) of every 4th pixel, as fractions."""
    q = (rgb[::4, ::4] >> 5).astype(np.int32)
    index = (q[..., 0] << 6) | (q[..., 1] << 3) | q[..., 2]
    return np.bincount(index.ravel(), minlength=512) / index.size


def _distance(a: np.ndarray, b: np.ndarray) -> float:
    return 0.5 * float(np.abs(a - b).sum())
