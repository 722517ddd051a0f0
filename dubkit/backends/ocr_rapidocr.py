"""Text reading with RapidOCR (`rapidocr_onnxruntime`): PaddleOCR's PP-OCRv4 detection and recognition models
(Chinese and English) and its direction classifier, as ONNX files shipped inside the package's wheel.

The models run on onnxruntime; nothing is downloaded. A burned-in subtitle is read from its band alone (the
caller crops it): the detector's cost grows with the picture, and a band is a tenth of a frame.
"""

from __future__ import annotations

import logging
from importlib import metadata, util
from pathlib import Path
from typing import Any

import numpy as np

from dubkit.backends import registry
from dubkit.backends._fingerprint import file_sha256, library_versions
from dubkit.backends.base import TextLine

log = logging.getLogger(__name__)

NAME = "ocr/rapidocr"
DISTRIBUTION = "rapidocr_onnxruntime"
# The package's own model files (its config.yaml names them relative to the package folder).
MODEL_FILES = (
    "models/ch_PP-OCRv4_det_infer.onnx",
    "models/ch_PP-OCRv4_rec_infer.onnx",
    "models/ch_ppocr_mobile_v2.0_cls_infer.onnx",
)


class RapidOcrReader:
    """PP-OCRv4 through RapidOCR. *min_score*: lines read with less confidence are dropped; *use_cls*: turn
    upside-down lines first (subtitles never are, so it is off by default); *threads*: onnxruntime's threads per
    model (-1: its own choice); *max_side*: the detector sees the picture at most this wide or tall, never
    enlarged (RapidOCR's default enlarges the shorter side to 736 px: a 90 px band was read 8x enlarged, 1.5 s a
    read; at its own size the same subtitles read alike in 0.1 s)."""

    def __init__(self, min_score: float = 0.5, use_cls: bool = False, threads: int = -1, max_side: int = 960) -> None:
        self.min_score = min_score
        self.use_cls = use_cls
        self.threads = threads
        self.max_side = max_side
        self._engine: Any = None

    def fingerprint(self) -> dict[str, str]:
        """Library versions and the models' sha256 (memoized on disk: the model is not loaded)."""
        folder = package_folder()
        return {
            "library": library_versions(DISTRIBUTION, "onnxruntime", backend=NAME),
            "model": "PP-OCRv4 det + rec (ch), ppocr mobile v2.0 cls",
            "weights": " ".join(f"{Path(name).name}:{file_sha256(folder / name)}" for name in MODEL_FILES),
            "options": f"min_score={self.min_score} use_cls={self.use_cls} max_side={self.max_side}",
        }

    def load(self) -> None:
        if self._engine is not None:
            return
        try:
            from rapidocr_onnxruntime import RapidOCR
        except ImportError as exc:
            raise registry.unavailable(NAME, str(exc)) from None
        self._engine = RapidOCR(
            text_score=self.min_score,
            use_cls=self.use_cls,
            intra_op_num_threads=self.threads,
            inter_op_num_threads=self.threads,
            det_limit_type="max",
            det_limit_side_len=self.max_side,
        )
        log.info("RapidOCR %s loaded (PP-OCRv4)", metadata.version(DISTRIBUTION))

    def close(self) -> None:
        self._engine = None

    def read(self, rgb: np.ndarray) -> list[TextLine]:
        """The lines in *rgb*, top to bottom, left to right."""
        self.load()
        bgr = np.ascontiguousarray(rgb[..., ::-1])  # RapidOCR takes arrays as OpenCV's BGR
        found, _elapsed = self._engine(bgr)
        return reading_order([_line(points, text, score) for points, text, score in found or []])


def package_folder() -> Path:
    """Where the installed package lies, found without importing it (that would import OpenCV)."""
    found = util.find_spec(DISTRIBUTION)
    if found is None or not found.submodule_search_locations:
        raise registry.unavailable(NAME, f"{DISTRIBUTION} is not installed")
    return Path(next(iter(found.submodule_search_locations)))


def reading_order(lines: list[TextLine]) -> list[TextLine]:
    """Lines grouped into rows (a centre within half a line's height of the row's first), rows top to bottom,
    each row left to right."""
    rows: list[list[TextLine]] = []
    for line in sorted(lines, key=lambda item: item.box[1] + item.box[3]):
        centre, half = (line.box[1] + line.box[3]) / 2, (line.box[3] - line.box[1]) / 2
        if rows and abs(centre - (rows[-1][0].box[1] + rows[-1][0].box[3]) / 2) <= half:
            rows[-1].append(line)
        else:
            rows.append([line])
    return [line for row in rows for line in sorted(row, key=lambda item: item.box[0])]


def _line(points: list[list[float]], text: str, score: float) -> TextLine:
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    return TextLine(str(text), float(score), (round(min(xs)), round(min(ys)), round(max(xs)), round(max(ys))))
