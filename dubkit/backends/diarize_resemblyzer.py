"""Speaker embeddings with Resemblyzer (GE2E, a 3-layer LSTM over 40 mel bands; weights `pretrained.pt` bundled).

One 256-d unit vector per stretch of speech: the mean of 1.6 s windows taken 1.3 times a second, after the
volume is normalized and long silences are cut (Resemblyzer's own preprocessing, webrtcvad). On the shared
recordings (`benchmarks/speaker_similarity.py`) the same speaker's stretches are 0.69-0.96 alike (median 0.88),
different speakers' 0.37-0.70 (median 0.54).

Resemblyzer loads its weights with `torch.load` itself; torch >= 2.6 (the pinned 2.13.0) reads them with
`weights_only=True` by default, so the checkpoint cannot run code.
"""

from __future__ import annotations

import importlib.metadata
import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from dubkit.errors import BackendUnavailable

log = logging.getLogger(__name__)

NAME = "speaker/resemblyzer"
INSTALL = "pip install torch==2.13.0 && pip install 'dubkit[diarize]' && pip install --no-deps resemblyzer==0.1.4"
RATE = 16_000
MIN_SPEECH_S = 0.6  # voiced speech (webrtcvad) needed to tell a voice by; less: no embedding


class ResemblyzerEncoder:
    """*device*: `cpu` (default), `cuda` or `auto`; *threads*: torch intra-op threads (0 = torch's choice)."""

    rate = RATE

    def __init__(self, device: str = "cpu", threads: int = 0) -> None:
        self.device = device
        self.threads = threads
        self._encoder: Any = None
        self._preprocess: Any = None

    def fingerprint(self) -> dict[str, str]:
        """Library versions and the weights' identity (package version + file size); never loads the model."""
        try:
            version = importlib.metadata.version("resemblyzer")
            torch_version = importlib.metadata.version("torch")
        except importlib.metadata.PackageNotFoundError as exc:
            raise BackendUnavailable(NAME, f"{exc} is not installed", INSTALL) from None
        weights = _weights_path()
        return {
            "library": f"resemblyzer {version}, torch {torch_version}",
            "model": "GE2E speaker encoder (resemblyzer pretrained.pt)",
            "weights": f"resemblyzer=={version}:{weights.stat().st_size}",
            "options": f"min_speech_s={MIN_SPEECH_S}",
        }

    def load(self) -> None:
        if self._encoder is not None:
            return
        try:
            import torch

            with warnings.catch_warnings():  # resemblyzer imports scipy.ndimage.morphology (deprecated)
                warnings.simplefilter("ignore", DeprecationWarning)
                from resemblyzer import VoiceEncoder, preprocess_wav
        except ImportError as exc:
            raise BackendUnavailable(NAME, str(exc), INSTALL) from None
        if tuple(int(x) for x in torch.__version__.split("+")[0].split(".")[:2]) < (2, 6):
            raise BackendUnavailable(NAME, f"torch {torch.__version__} does not load weights_only by default", INSTALL)
        if self.threads:
            torch.set_num_threads(self.threads)
        device = ("cuda" if torch.cuda.is_available() else "cpu") if self.device == "auto" else self.device
        self._encoder = VoiceEncoder(device=device, verbose=False)
        self._preprocess = preprocess_wav
        log.info("resemblyzer speaker encoder on %s", device)

    def close(self) -> None:
        self._encoder = self._preprocess = None

    def embed(self, samples: np.ndarray) -> np.ndarray | None:
        """One unit-length embedding of 16 kHz mono speech (long stretches: the mean over 1.6 s windows), or None
        when it holds under `MIN_SPEECH_S` of voiced speech (a mistimed word, a breath)."""
        self.load()
        samples = np.ascontiguousarray(samples, dtype=np.float32)
        if len(samples) < MIN_SPEECH_S * RATE or not np.any(np.abs(samples) > 1e-4):
            return None
        speech = self._preprocess(samples)  # level normalized, pauses cut
        if len(speech) < MIN_SPEECH_S * RATE:
            return None
        return np.asarray(self._encoder.embed_utterance(speech), dtype=np.float32)


def _weights_path() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("resemblyzer")
    if spec is None or not spec.submodule_search_locations:
        raise BackendUnavailable(NAME, "resemblyzer is not installed", INSTALL)
    path = Path(next(iter(spec.submodule_search_locations))) / "pretrained.pt"
    if not path.is_file():
        raise BackendUnavailable(
            NAME, f"{path} is missing", "pip install --force-reinstall --no-deps resemblyzer==0.1.4"
        )
    return path
