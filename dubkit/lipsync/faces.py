"""Mouth opening per frame from MediaPipe's face mesh (mediapipe 0.10.21 bundles its models), streamed.

The opening is the gap between the inner lips (mesh points 13 and 14) over the face height (10 to 152),
so it does not depend on the face's size in the picture. Frames without a face give NaN.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dubkit import media
from dubkit.errors import BackendUnavailable

log = logging.getLogger(__name__)

VERSION = 1  # bump when a change here changes the bytes of a cache entry (see dubkit.cache)
INSTALL = "pip install 'dubkit[lipsync]'"
UPPER_LIP, LOWER_LIP, FOREHEAD, CHIN = 13, 14, 10, 152
ANALYSIS_HEIGHT = 480  # frames are scaled down to this before the mesh: faces stay large enough, decoding cheap
MOUTH_CORNERS = (61, 291)  # face-mesh points at the left and right corners of the mouth
RETRY_FRAMES = 12  # how often a shot without a face so far is searched part by part
DUPLICATE_OVERLAP = 0.5  # two faces of one frame sharing more of the smaller's box are one face reported twice


@dataclass(frozen=True)
class MouthTrack:
    """Per decoded frame: presentation time (s) and mouth opening (NaN without a face)."""

    times_s: np.ndarray
    opening: np.ndarray

    @property
    def fps(self) -> float:
        steps = np.diff(self.times_s)
        return float(1.0 / np.median(steps)) if len(steps) else 0.0

    @property
    def face_frames(self) -> int:
        return int(np.count_nonzero(~np.isnan(self.opening)))


def mouth_track(video: Path, max_height: int = ANALYSIS_HEIGHT) -> MouthTrack:
    """The largest face's mouth opening in every frame of *video* (one frame in memory at a time)."""
    times, openings = [], []
    with native_logs_silenced(), FaceFinder(1) as finder:
        for frame in media.video_frames(video, max_height):
            times.append(frame.time_s)
            faces = finder.faces(frame.rgb)
            openings.append(faces[0].opening if faces else float("nan"))
    log.info("%s: %d frames, %d with a face", video, len(times), int(np.sum(~np.isnan(openings))))
    return MouthTrack(np.asarray(times, dtype=np.float64), np.asarray(openings, dtype=np.float64))


@contextlib.contextmanager
def native_logs_silenced() -> Iterator[None]:
    """MediaPipe's native code logs to file descriptor 2 (TFLite delegates, absl warnings): keep it off the
    terminal while the mesh runs; Python errors still surface as exceptions."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def face_mesh(max_faces: int, still: bool = False):  # noqa: ANN201 - mediapipe's own type
    """MediaPipe's face mesh in video mode (landmarks tracked from frame to frame), or for *still* pictures
    (a detection on every call, no state)."""
    try:
        from mediapipe.python.solutions.face_mesh import FaceMesh
    except ImportError as exc:
        raise BackendUnavailable("lipsync/faces", f"mediapipe is not installed ({exc})", INSTALL) from None
    return FaceMesh(
        static_image_mode=still, max_num_faces=max_faces, refine_landmarks=False, min_detection_confidence=0.5
    )


@dataclass(frozen=True)
class Face:
    """One face in one frame: box (x0, y0, x1, y1), mouth corners ((x, y) left, right), both as fractions of
    the whole frame, and the mouth opening."""

    box: np.ndarray
    opening: float
    corners: np.ndarray


@dataclass(frozen=True)
class View:
    """The part of the frame the mesh looks at, as fractions (x0, y0, x1, y1)."""

    x0: float = 0.0
    y0: float = 0.0
    x1: float = 1.0
    y1: float = 1.0

    def crop(self, rgb: np.ndarray) -> np.ndarray:
        height, width = rgb.shape[:2]
        rows = slice(round(self.y0 * height), round(self.y1 * height))
        return np.ascontiguousarray(rgb[rows, round(self.x0 * width) : round(self.x1 * width)])

    def face(self, landmarks, aspect: float) -> Face:  # noqa: ANN001 - mediapipe's own type
        """The face of *landmarks* (fractions of this view, whose width/height is *aspect*) in frame fractions."""
        points = landmarks.landmark
        xs = self.x0 + (self.x1 - self.x0) * np.fromiter((p.x for p in points), dtype=np.float64)
        ys = self.y0 + (self.y1 - self.y0) * np.fromiter((p.y for p in points), dtype=np.float64)
        box = np.array([xs.min(), ys.min(), xs.max(), ys.max()])
        return Face(box, opening(landmarks, aspect), np.array([[xs[i], ys[i]] for i in MOUTH_CORNERS]))


def square_views(height: int, width: int) -> list[View]:
    """Three overlapping squares along the long side of a picture that is far from square (else none)."""
    if max(height, width) < 1.25 * min(height, width):
        return []
    side = min(height, width) / max(height, width)
    starts = (0.0, (1.0 - side) / 2, 1.0 - side)
    if height > width:
        return [View(0.0, start, 1.0, start + side) for start in starts]
    return [View(start, 0.0, start + side, 1.0) for start in starts]


class FaceFinder:
    """The face mesh over the frames of a video, restarted at every shot (`new_shot`).

    MediaPipe's detector sees the frame shrunk to a small square, so the faces of a tall (9:16) or wide
    picture can be too small for it. While a shot has shown no face in the whole frame, every
    `RETRY_FRAMES` frames three squares along its long side are tried; the first that holds a face becomes
    the shot's view (faces outside it are then not seen in that shot).
    """

    def __init__(self, max_faces: int) -> None:
        self.max_faces = max_faces
        self._mesh = None
        self._searcher = None
        self.new_shot()

    def new_shot(self) -> None:
        self._restart(View())
        self._found, self._since = False, 0

    def faces(self, rgb: np.ndarray) -> list[Face]:
        found = _faces(self._mesh, self._view, rgb)
        if not found and not self._found and self._since % RETRY_FRAMES == 0:
            found = self._search(rgb)
        self._since += 1
        self._found = self._found or bool(found)
        return found

    def _search(self, rgb: np.ndarray) -> list[Face]:
        for view in square_views(*rgb.shape[:2]):
            if self._searcher is None:
                self._searcher = face_mesh(self.max_faces, still=True)
            if _faces(self._searcher, view, rgb):
                self._restart(view)
                return _faces(self._mesh, view, rgb)
        return []

    def _restart(self, view: View) -> None:
        if self._mesh is not None:
            self._mesh.close()
        self._mesh, self._view = face_mesh(self.max_faces), view

    def close(self) -> None:
        for mesh in (self._mesh, self._searcher):
            if mesh is not None:
                mesh.close()
        self._mesh = self._searcher = None

    def __enter__(self) -> FaceFinder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _faces(mesh, view: View, rgb: np.ndarray) -> list[Face]:  # noqa: ANN001 - mediapipe's own type
    crop = view.crop(rgb)
    found = mesh.process(crop).multi_face_landmarks or ()
    return distinct([view.face(landmarks, crop.shape[1] / crop.shape[0]) for landmarks in found])


def distinct(faces: list[Face]) -> list[Face]:
    """The faces less duplicates: in video mode the mesh can report one face twice (its tracked landmarks and a
    fresh detection), boxes overlapping by more than `DUPLICATE_OVERLAP` of the smaller one; the larger is kept."""
    kept: list[Face] = []
    for face in sorted(faces, key=lambda f: -_area(f.box)):
        if all(_overlap(face.box, other.box) <= DUPLICATE_OVERLAP for other in kept):
            kept.append(face)
    return kept


def _overlap(a: np.ndarray, b: np.ndarray) -> float:
    """The intersection of two boxes over the smaller one's area."""
    smaller = min(_area(a), _area(b))
    return float(_intersection(a, b) / smaller) if smaller > 0 else 0.0


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two (x0, y0, x1, y1) boxes."""
    inter = _intersection(a, b)
    union = _area(a) + _area(b) - inter
    return float(inter / union) if union > 0 else 0.0


def _intersection(a: np.ndarray, b: np.ndarray) -> float:
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    return width * height


def _area(box: np.ndarray) -> float:
    return float(max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1]))


def opening(landmarks, aspect: float) -> float:  # noqa: ANN001 - mediapipe's own type
    """Inner-lip gap over face height; landmarks come in fractions of width and height, hence *aspect*."""
    points = landmarks.landmark

    def gap(a: int, b: int) -> float:
        return float(np.hypot((points[a].x - points[b].x) * aspect, points[a].y - points[b].y))

    face = gap(FOREHEAD, CHIN)
    return gap(UPPER_LIP, LOWER_LIP) / face if face > 0 else float("nan")
