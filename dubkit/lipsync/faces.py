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

INSTALL = "pip install 'dubkit[lipsync]'"
UPPER_LIP, LOWER_LIP, FOREHEAD, CHIN = 13, 14, 10, 152
ANALYSIS_HEIGHT = 480  # frames are scaled down to this before the mesh: faces stay large enough, decoding cheap


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
    with native_logs_silenced(), face_mesh(1) as mesh:
        for frame in media.video_frames(video, max_height):
            times.append(frame.time_s)
            height, width = frame.rgb.shape[:2]
            faces = mesh.process(np.ascontiguousarray(frame.rgb)).multi_face_landmarks
            openings.append(opening(faces[0], width / height) if faces else float("nan"))
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


def face_mesh(max_faces: int):  # noqa: ANN201 - mediapipe's own type
    """MediaPipe's face mesh in video mode (landmarks tracked from frame to frame)."""
    try:
        from mediapipe.python.solutions.face_mesh import FaceMesh
    except ImportError as exc:
        raise BackendUnavailable("lipsync/faces", f"mediapipe is not installed ({exc})", INSTALL) from None
    return FaceMesh(
        static_image_mode=False, max_num_faces=max_faces, refine_landmarks=False, min_detection_confidence=0.5
    )


def opening(landmarks, aspect: float) -> float:  # noqa: ANN001 - mediapipe's own type
    """Inner-lip gap over face height; landmarks come in fractions of width and height, hence *aspect*."""
    points = landmarks.landmark

    def gap(a: int, b: int) -> float:
        return float(np.hypot((points[a].x - points[b].x) * aspect, points[a].y - points[b].y))

    face = gap(FOREHEAD, CHIN)
    return gap(UPPER_LIP, LOWER_LIP) / face if face > 0 else float("nan")
