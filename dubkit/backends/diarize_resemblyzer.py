"""Speaker embeddings with Resemblyzer (GE2E, a 3-layer LSTM over 40 mel bands; weights `pretrained.pt` bundled).

One 256-d unit vector per stretch of speech: the mean of 1.6 s windows taken 1.3 times a second, after the
volume is normalized and long silences are cut (Resemblyzer's own preprocessing, webrtcvad). On the shared
recordings (`benchmarks/speaker_similarity.py`) the same speaker's stretches are 0.69-0.96 alike (median 0.88),
different speakers' 0.37-0.70 (median 0.54).

Resemblyzer loads its weights with `torch.load` itself; torch >= 2.6 (the pinned 2.13.0) reads them with
`weights_only=True` by default, so the checkpoint cannot run code.

The model runs in a child process (a fresh interpreter), started by `load()` and ended by `close()`: torch,
librosa and numba stay mapped in whichever process imports them (~400 MB after the model is freed and the heap
trimmed), so in the dubbing process they would add to every later stage's peak (lip-sync, render). Audio goes to
the child and embeddings come back as raw float32 bytes over a socket pair, errors as one line of JSON; nothing is
pickled. The child is a plain `python -c` rather than a multiprocessing 'spawn' process, which would re-run the
caller's main script in the child (an unguarded script, or one read from stdin, then fails).
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import signal
import socket
import subprocess
import sys
import warnings
import weakref
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np

from dubkit.backends import registry
from dubkit.errors import BackendUnavailable, StageFailed

log = logging.getLogger(__name__)

NAME = "speaker/resemblyzer"
RATE = 16_000
MIN_SPEECH_S = 0.6  # voiced speech (webrtcvad) needed to tell a voice by; less: no embedding
STOP_GRACE_S = 10.0  # a closed encoder's child gets this long to exit before it is killed
CHILD = """import sys
if sys.argv[1] not in sys.path:  # this very dubkit, also when it runs from a source tree
    sys.path.insert(0, sys.argv[1])
from dubkit.backends.diarize_resemblyzer import _serve
_serve(*sys.argv[2:])
"""
# The child's messages start with a tag: loaded (then the device), an embedding (float32), none, an error (JSON).
READY, VECTOR, NONE, ERROR = b"r", b"v", b"-", b"!"


class ResemblyzerEncoder:
    """*device*: `cpu` (default), `cuda` or `auto`; *threads*: torch intra-op threads (0 = torch's choice)."""

    rate = RATE

    def __init__(self, device: str = "cpu", threads: int = 0) -> None:
        self.device = device
        self.threads = threads
        self._worker: _Worker | None = None

    def fingerprint(self) -> dict[str, str]:
        """Library versions and the weights' identity (package version + file size); never loads the model."""
        try:
            version = importlib.metadata.version("resemblyzer")
            torch_version = importlib.metadata.version("torch")
        except importlib.metadata.PackageNotFoundError as exc:
            raise registry.unavailable(NAME, f"{exc} is not installed") from None
        weights = _weights_path()
        return {
            "library": f"resemblyzer {version}, torch {torch_version}",
            "model": "GE2E speaker encoder (resemblyzer pretrained.pt)",
            "weights": f"resemblyzer=={version}:{weights.stat().st_size}",
            "options": f"min_speech_s={MIN_SPEECH_S}",
        }

    def load(self) -> None:
        """Start the child process and wait until it holds the model (a missing library: BackendUnavailable)."""
        self._started()

    def close(self) -> None:
        if self._worker is not None:
            self._worker.stop()
            self._worker = None

    def embed(self, samples: np.ndarray) -> np.ndarray | None:
        """One unit-length embedding of 16 kHz mono speech (long stretches: the mean over 1.6 s windows), or None
        when it holds under `MIN_SPEECH_S` of voiced speech (a mistimed word, a breath)."""
        samples = np.ascontiguousarray(samples, dtype=np.float32)
        if len(samples) < MIN_SPEECH_S * RATE or not np.any(np.abs(samples) > 1e-4):
            return None
        return self._started().embed(samples)

    def _started(self) -> _Worker:
        if self._worker is None:
            self._worker = _Worker(self.device, self.threads)
        return self._worker


class _Worker:
    """The parent's handle on the child that holds the model. The child ends when the socket closes: on `stop()`,
    or when the parent dies, so it never outlives it."""

    def __init__(self, device: str, threads: int) -> None:
        parent_end, child_end = socket.socketpair()
        with child_end:
            root = str(Path(__file__).resolve().parents[2])
            argv = [sys.executable, "-c", CHILD, root, str(child_end.fileno()), device, str(threads)]
            self._process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, pass_fds=[child_end.fileno()])
        self._conn = Connection(parent_end.detach())
        self._stopper = weakref.finalize(self, _stop, self._conn, self._process)
        try:
            _, where = self._reply()  # waits until the model is loaded
        except BaseException:
            self.stop()
            raise
        log.info("resemblyzer speaker encoder on %s", where.decode())

    def embed(self, samples: np.ndarray) -> np.ndarray | None:
        try:
            self._conn.send_bytes(samples.data)
        except OSError:
            raise self._ended() from None
        tag, body = self._reply()
        return np.frombuffer(body, dtype=np.float32).copy() if tag == VECTOR else None

    def stop(self) -> None:
        self._stopper()

    def _reply(self) -> tuple[bytes, bytes]:
        """The child's next message (tag, body); its error or its end raised as a dubkit error."""
        try:
            reply = self._conn.recv_bytes()
        except (EOFError, OSError):
            raise self._ended() from None
        tag, body = reply[:1], reply[1:]
        if tag == ERROR:
            error = json.loads(body)
            if "unavailable" in error:
                raise registry.unavailable(NAME, error["unavailable"])
            raise StageFailed(f"{NAME}: {error['failed']}")
        return tag, body

    def _ended(self) -> StageFailed:
        try:
            code: int | None = self._process.wait(STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            code = None
        return StageFailed(f"{NAME}: the encoder process ended unexpectedly (exit code {code})")


def _stop(conn: Connection, process: subprocess.Popen) -> None:
    """Close the socket (the child's cue to exit) and reap the child; kill it if it does not go."""
    conn.close()
    try:
        process.wait(STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# ---- in the child process ----


def _serve(fd: str, device: str, threads: str) -> None:
    """Load the model, say on which device, then answer each stretch of audio with its embedding until the socket
    closes. Errors go back as one line of JSON: the parent raises them. Ctrl-C is the parent's to handle."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    conn = Connection(int(fd))
    try:
        encoder, preprocess, where = _load_model(device, int(threads))
    except BackendUnavailable as exc:
        conn.send_bytes(ERROR + json.dumps({"unavailable": exc.reason}).encode())
        return
    except Exception as exc:  # noqa: BLE001 - a bad checkpoint, a CUDA error: the parent says it in one line
        conn.send_bytes(_failure(exc))
        return
    conn.send_bytes(READY + where.encode())
    while True:
        try:
            samples = np.frombuffer(conn.recv_bytes(), dtype=np.float32).copy()
        except (EOFError, OSError):
            return
        try:
            speech = preprocess(samples)  # level normalized, pauses cut
            if len(speech) < MIN_SPEECH_S * RATE:
                conn.send_bytes(NONE)
            else:
                conn.send_bytes(VECTOR + np.asarray(encoder.embed_utterance(speech), dtype=np.float32).tobytes())
        except Exception as exc:  # noqa: BLE001 - any failure goes back to the parent as one line
            conn.send_bytes(_failure(exc))


def _failure(exc: Exception) -> bytes:
    message = f"{type(exc).__name__}: {exc}".splitlines()[0]
    return ERROR + json.dumps({"failed": message}).encode()


def _load_model(device: str, threads: int) -> tuple[Any, Any, str]:
    """Resemblyzer's encoder and preprocessing, and the device it runs on."""
    try:
        import torch

        with warnings.catch_warnings():  # resemblyzer imports scipy.ndimage.morphology (deprecated)
            warnings.simplefilter("ignore", DeprecationWarning)
            from resemblyzer import VoiceEncoder, preprocess_wav
    except ImportError as exc:
        raise registry.unavailable(NAME, str(exc)) from None
    if tuple(int(x) for x in torch.__version__.split("+")[0].split(".")[:2]) < (2, 6):
        raise registry.unavailable(NAME, f"torch {torch.__version__} does not load weights_only by default")
    if threads:
        torch.set_num_threads(threads)
    where = ("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else device
    return VoiceEncoder(device=where, verbose=False), preprocess_wav, where


def _weights_path() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("resemblyzer")
    if spec is None or not spec.submodule_search_locations:
        raise registry.unavailable(NAME, "resemblyzer is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "pretrained.pt"
    if not path.is_file():
        raise BackendUnavailable(
            NAME, f"{path} is missing", "pip install --force-reinstall --no-deps resemblyzer==0.1.4"
        )
    return path
